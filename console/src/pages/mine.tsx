import { useCallback, useContext, useEffect, useState } from 'preact/hooks';
import { moveLabel, technicianNext, transition, transitionFields } from '../actions.js';
import { api, OPEN_STATUSES, type Page, type SlaTarget, STATUSES, type Ticket } from '../api.js';
import { ActionForm } from '../components/action-form.js';
import { SlaBar } from '../components/sla-bar.js';
import { t, useLanguage } from '../i18n.js';
import { type LiveEvent, useEvents, useNow } from '../live.js';
import { byUrgency } from '../queue-model.js';
import { SessionContext } from '../session.js';

const EVENTS = ['ticket.created', 'ticket.updated', 'sla.warning', 'sla.breach'];
const CLOCKS: SlaTarget[] = ['response', 'remoteFix', 'onsite', 'resolution', 'visit'];

/**
 * The technician's phone view (issue 21): the open tickets assigned to them, most urgent first, each
 * with its next step as one large button (a step that needs a report opens its form in place).
 */
export function Mine() {
  useLanguage();
  const { user, settings } = useContext(SessionContext);
  const [tickets, setTickets] = useState<{ items: Ticket[]; at: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const now = useNow();
  const load = useCallback(() => {
    if (!user.technician) return;
    const q = new URLSearchParams({
      assignee: user.technician,
      status: OPEN_STATUSES.join(','),
      sort: 'urgency',
      limit: '500',
    });
    api<Page<Ticket>>('GET', `/tickets?${q}`)
      .then((p) => setTickets({ items: p.items.sort(byUrgency), at: Date.now() }))
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)));
  }, [user.technician]);
  useEffect(load, [load]);
  const onEvent = useCallback(
    (e: LiveEvent) => {
      const data = e.data as Partial<Ticket> | null;
      if (e.type.startsWith('sla.') || (data?.assignees ?? []).includes(user.technician ?? '')) load();
    },
    [load, user.technician],
  );
  useEvents(EVENTS, onEvent);

  return (
    <section class="mine" aria-labelledby="mine-title">
      <h1 id="mine-title">{t('mine.title')}</h1>
      {error ? (
        <p class="error" role="alert">
          {t('error.generic', { m: error })}
        </p>
      ) : null}
      {tickets && tickets.items.length === 0 ? <p class="empty">{t('mine.empty')}</p> : null}
      <ol class="cards">
        {(tickets?.items ?? []).map((tk) => (
          <li key={tk.id} class={`card-ticket row-${tk.priority}`} data-ticket={tk.id}>
            <p class="card-head">
              <span class={`badge badge-${tk.priority}`}>{t(`priority.${tk.priority}`)}</span>{' '}
              <span class="status">{t(`status.${tk.status}` as 'status.open')}</span>
            </p>
            <h2>
              <span class="ticket-id">{tk.id}</span> {tk.title}
            </h2>
            <p class="where">
              {tk.deviceId ?? '—'} · {settings.sites.find((s) => s.id === tk.site)?.name ?? tk.site ?? '—'}
            </p>
            {CLOCKS.filter((k) => tk.sla[k] && tk.sla[k]?.metAt === null)
              .slice(0, 1)
              .map((k) => (
                <SlaBar
                  key={k}
                  target={k}
                  clock={tk.sla[k] as NonNullable<Ticket['sla'][SlaTarget]>}
                  receivedAt={tickets?.at ?? now}
                  now={now}
                  warnAt={settings.slaWarnAt}
                />
              ))}
            <NextStep ticket={tk} onDone={load} />
            <a class="details" href={`/tickets/${encodeURIComponent(tk.id)}`}>
              {t('mine.details')}
            </a>
          </li>
        ))}
      </ol>
    </section>
  );
}

function NextStep(props: { ticket: Ticket; onDone: () => void }) {
  const tk = props.ticket;
  const [open, setOpen] = useState(false);
  const to = technicianNext(tk.status, STATUSES);
  if (!to) return null;
  const fields = transitionFields(to).filter((f) => f.required || to === 'resolved');
  const go = (v: Record<string, string>) => transition(tk.id, to, fields, v);
  if (fields.length === 0 || open)
    return (
      <ActionForm
        id={`next-${tk.id}`}
        fields={fields}
        submit={moveLabel(to)}
        onSubmit={go}
        onDone={() => {
          setOpen(false);
          props.onDone();
        }}
        {...(fields.length ? { onCancel: () => setOpen(false) } : {})}
        big
      />
    );
  return (
    <button type="button" class="primary big" onClick={() => setOpen(true)}>
      {moveLabel(to)}
    </button>
  );
}
