import { useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import type { FieldSpec, Values } from '../body.js';
import { t } from '../i18n.js';

/**
 * A form for one API action: its fields named by the path the API gives in its validation errors
 * (`dispatch.appointmentAt`), so that each error is shown next to its field; errors about no field
 * (a transition not allowed, a permission) above the button.
 */
export type { FieldSpec, Values } from '../body.js';
export { bodyOf } from '../body.js';

export function ActionForm(props: {
  id: string;
  fields: readonly FieldSpec[];
  submit: string;
  onSubmit: (values: Values) => Promise<unknown>;
  onDone?: () => void;
  onCancel?: () => void;
  big?: boolean;
}) {
  const [values, setValues] = useState<Values>({});
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      await props.onSubmit(values);
      setError(null);
      setValues({});
      props.onDone?.();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, 'FL_ERR_INTERNAL', String(err)));
    } finally {
      setBusy(false);
    }
  };
  const fieldError = (f: FieldSpec) => error?.field(f.path);
  const general =
    error && !props.fields.some((f) => fieldError(f))
      ? error.fields.map((f) => f.message).join('; ') || error.message
      : null;
  return (
    <form class={`action${props.big ? ' action-big' : ''}`} onSubmit={submit} noValidate>
      {props.fields.map((f) => {
        const id = `${props.id}-${f.path.replace(/\W/g, '-')}`;
        const err = fieldError(f);
        const common = {
          id,
          name: f.path,
          'aria-invalid': err ? true : undefined,
          'aria-describedby': err ? `${id}-error` : undefined,
          value: values[f.path] ?? '',
          onInput: (e: Event) =>
            setValues({ ...values, [f.path]: (e.currentTarget as HTMLInputElement).value }),
        };
        return (
          <div class="field" key={f.path}>
            <label for={id}>
              {t(f.label)}
              {f.required ? <span aria-hidden="true"> *</span> : null}
            </label>
            {f.kind === 'textarea' ? (
              <textarea {...common} />
            ) : f.kind === 'select' || f.kind === 'score' ? (
              <select {...common} onChange={common.onInput}>
                <option value="">—</option>
                {(f.options ?? []).map((o) => (
                  <option key={o.value} value={o.value}>
                    {o.label}
                  </option>
                ))}
              </select>
            ) : (
              <input
                {...common}
                type={f.kind === 'datetime' ? 'datetime-local' : f.kind === 'password' ? 'password' : 'text'}
                {...(f.kind === 'password'
                  ? { autocomplete: f.path === 'current' ? 'current-password' : 'new-password' }
                  : {})}
              />
            )}
            {err ? (
              <p id={`${id}-error`} class="field-error" role="alert">
                {err}
              </p>
            ) : null}
          </div>
        );
      })}
      {general ? (
        <p class="error" role="alert">
          {general}
        </p>
      ) : null}
      <div class="buttons">
        <button type="submit" class="primary" disabled={busy}>
          {props.submit}
        </button>
        {props.onCancel ? (
          <button type="button" onClick={props.onCancel}>
            {t('action.cancel')}
          </button>
        ) : null}
      </div>
    </form>
  );
}
