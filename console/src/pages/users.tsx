import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, type User } from '../api.js';
import { ActionForm, bodyOf, type FieldSpec } from '../components/action-form.js';
import { dateTime } from '../format.js';
import { t, useLanguage } from '../i18n.js';

type Account = User & { lastSignInAt: string | null; disabledAt: string | null };

const ROLES = ['viewer', 'technician', 'dispatcher', 'supervisor', 'customer', 'admin'] as const;

const NEW_USER: FieldSpec[] = [
  { path: 'username', label: 'users.username', kind: 'text', required: true },
  { path: 'displayName', label: 'users.displayName', kind: 'text' },
  {
    path: 'role',
    label: 'users.role',
    kind: 'select',
    required: true,
    options: ROLES.map((r) => ({ value: r, label: t(`role.${r}`) })),
  },
  { path: 'sites', label: 'users.sites', kind: 'list' },
  { path: 'technician', label: 'users.technician', kind: 'text' },
  { path: 'customer', label: 'users.customer', kind: 'text' },
  { path: 'password', label: 'users.password', kind: 'text' },
];

/**
 * Console users, for admins (issue 21): made here as with `faultline users add` (a password given, or
 * made and shown once), disabled and enabled, given a new password. The API checks every field.
 */
export function Users() {
  useLanguage();
  const [users, setUsers] = useState<Account[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  /** A password made by the gateway, shown once. */
  const [shown, setShown] = useState<{ username: string; password: string } | null>(null);
  const load = useCallback(() => {
    api<{ items: Account[] }>('GET', '/users')
      .then((r) => setUsers(r.items))
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)));
  }, []);
  useEffect(load, [load]);
  const act = (p: Promise<{ username: string; password?: string }>) =>
    p.then(
      (u) => {
        if (u.password) setShown({ username: u.username, password: u.password });
        load();
      },
      (e: Error) => setError(e.message),
    );

  return (
    <section aria-labelledby="users-title">
      <h1 id="users-title">{t('users.title')}</h1>
      {error ? (
        <p class="error" role="alert">
          {t('error.generic', { m: error })}
        </p>
      ) : null}
      {shown ? (
        <p class="notice" role="status">
          {t('users.shownOnce', { u: shown.username })} <code>{shown.password}</code>
        </p>
      ) : null}
      {adding ? (
        <ActionForm
          id="new-user"
          fields={NEW_USER}
          submit={t('users.add')}
          onSubmit={(v) =>
            api<{ username: string; password?: string }>('POST', '/users', bodyOf(NEW_USER, v)).then((u) => {
              if (u.password) setShown({ username: u.username, password: u.password });
            })
          }
          onDone={() => {
            setAdding(false);
            load();
          }}
          onCancel={() => setAdding(false)}
        />
      ) : (
        <button type="button" class="primary" onClick={() => setAdding(true)}>
          {t('users.add')}
        </button>
      )}
      <table class="grid">
        <thead>
          <tr>
            <th scope="col">{t('users.username')}</th>
            <th scope="col">{t('users.role')}</th>
            <th scope="col">{t('users.lastSignIn')}</th>
            <th scope="col">{t('action.title')}</th>
          </tr>
        </thead>
        <tbody>
          {(users ?? []).map((u) => (
            <tr key={u.id} data-user={u.username}>
              <td>
                {u.displayName} <small>({u.username})</small>
                {u.disabledAt ? <b> · {t('users.disabled')}</b> : null}
              </td>
              <td>
                {t(`role.${u.role}`)}
                {u.sites ? ` · ${u.sites.join(', ')}` : ''}
                {u.technician ? ` · ${u.technician}` : ''}
                {u.customer ? ` · ${u.customer}` : ''}
              </td>
              <td>{u.lastSignInAt ? dateTime(u.lastSignInAt) : '—'}</td>
              <td class="buttons">
                <button
                  type="button"
                  onClick={() =>
                    act(api('PATCH', `/users/${encodeURIComponent(u.id)}`, { disabled: !u.disabledAt }))
                  }
                >
                  {u.disabledAt ? t('users.enable') : t('users.disable')}
                </button>
                <button
                  type="button"
                  onClick={() => act(api('POST', `/users/${encodeURIComponent(u.id)}/password`, {}))}
                >
                  {t('users.newPassword')}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
