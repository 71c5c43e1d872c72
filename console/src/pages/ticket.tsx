import { useCallback, useContext, useEffect, useState } from 'preact/hooks';
import { api, type SlaTarget, type Ticket } from '../api.js';
import { SlaBar } from '../components/sla-bar.js';
import { dateTime, duration } from '../format.js';
import { t, useLanguage } from '../i18n.js';
import { type LiveEvent, useEvents, useNow } from '../live.js';
import { SessionContext } from '../session.js';
import { type FullTicket, TicketActions } from './ticket-actions.js';
import { TicketContext } from './ticket-context.js';

interface TimelineEntry {
  at: string;
  type: string;
  actor: string;
  from: string | null;
  to: string | null;
  note: string | null;
}

type Full = FullTicket & {
  timeline: TimelineEntry[];
  report:
    | (NonNullable<FullTicket['report']> & { cause: string; actions: string; prevention: string; by: string })
    | null;
  feedback: { score: number; comment: string | null } | null;
};

const CLOCKS: SlaTarget[] = ['response', 'remoteFix', 'onsite', 'resolution', 'visit'];
const EVENTS = ['ticket.updated', 'ticket.occurrence', 'sla.warning', 'sla.breach'];

/** One ticket: its clocks, its timeline, and a comment form; kept current from the event stream. */
export function TicketPage(props: { id?: string }) {
  useLanguage();
  const session = useContext(SessionContext);
  const id = props.id ?? '';
  const [ticket, setTicket] = useState<{ t: Full; at: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const now = useNow();
  const load = useCallback(
    () =>
      api<Full>('GET', `/tickets/${encodeURIComponent(id)}`)
        .then((tk) => setTicket({ t: tk, at: Date.now() }))
        .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err))),
    [id],
  );
  useEffect(() => {
    void load();
  }, [load]);
  const onEvent = useCallback((e: LiveEvent) => e.subject === id && void load(), [id, load]);
  useEvents(EVENTS, onEvent);

  if (error)
    return (
      <p class="error" role="alert">
        {t('error.generic', { m: error })}
      </p>
    );
  if (!ticket) return <p>{t('queue.loading')}</p>;
  const tk = ticket.t;
  return (
    <article class="ticket" aria-labelledby="ticket-title">
      <header>
        <p>
          <a href="/">{t('ticket.back')}</a>
        </p>
        <p>
          <span class={`badge badge-${tk.priority}`}>{t(`priority.${tk.priority}`)}</span>{' '}
          <span class="status">{t(`status.${tk.status}` as 'status.open')}</span>
        </p>
        <h1 id="ticket-title">
          <span class="ticket-id">{tk.id}</span> {tk.title}
        </h1>
        <dl class="facts">
          <dt>{t('col.device')}</dt>
          <dd>{tk.deviceId ?? '—'}</dd>
          <dt>{t('col.site')}</dt>
          <dd>{tk.site ?? '—'}</dd>
          <dt>{t('col.team')}</dt>
          <dd>{tk.team ?? '—'}</dd>
          <dt>{t('col.assignee')}</dt>
          <dd>{tk.assignees.join(', ') || t('ticket.unassigned')}</dd>
        </dl>
        <p class="description">{tk.description}</p>
      </header>
      <section aria-labelledby="clocks-title" class="clocks">
        <h2 id="clocks-title">{t('col.clocks')}</h2>
        {CLOCKS.filter((k) => tk.sla[k]).map((k) => (
          <SlaBar
            key={k}
            target={k}
            clock={tk.sla[k] as NonNullable<Ticket['sla'][SlaTarget]>}
            receivedAt={ticket.at}
            now={now}
            warnAt={session.settings.slaWarnAt}
          />
        ))}
        <table class="grid clock-table">
          <thead>
            <tr>
              <th scope="col">{t('clock.name')}</th>
              <th scope="col">{t('clock.target')}</th>
              <th scope="col">{t('clock.due')}</th>
              <th scope="col">{t('col.state')}</th>
              <th scope="col">{t('clock.metAt')}</th>
            </tr>
          </thead>
          <tbody>
            {CLOCKS.filter((k) => tk.sla[k]).map((k) => {
              const c = tk.sla[k] as NonNullable<Ticket['sla'][SlaTarget]>;
              return (
                <tr key={k}>
                  <th scope="row">{t(`clock.${k}`)}</th>
                  <td>{duration(c.targetMs)}</td>
                  <td>{dateTime(c.dueAt)}</td>
                  <td>
                    {t(`clockState.${c.state}`)}
                    {c.pausedAt ? ` (${t('clock.pausedSince', { at: dateTime(c.pausedAt) })})` : ''}
                  </td>
                  <td>{c.metAt ? dateTime(c.metAt) : '—'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
      {tk.report ? (
        <section class="report" aria-labelledby="report-title">
          <h2 id="report-title">
            {t('ticket.report')} <small>({t(`ticket.review.${tk.report.review.state}`)})</small>
          </h2>
          <dl class="facts">
            <dt>{t('field.cause')}</dt>
            <dd>{tk.report.cause}</dd>
            <dt>{t('field.actions')}</dt>
            <dd>{tk.report.actions}</dd>
            <dt>{t('field.prevention')}</dt>
            <dd>{tk.report.prevention || '—'}</dd>
          </dl>
        </section>
      ) : null}
      {tk.feedback ? (
        <p class="feedback">
          {t('ticket.feedback')}: <span aria-hidden="true">{'★'.repeat(tk.feedback.score)}</span>{' '}
          {tk.feedback.score}/5
          {tk.feedback.comment ? ` — ${tk.feedback.comment}` : ''}
        </p>
      ) : null}
      {session.user.role === 'customer' ? null : <TicketContext ticket={tk} />}
      <TicketActions ticket={tk} onDone={() => void load()} />
      {session.user.role === 'customer' ? null : (
        <section class="timeline" aria-labelledby="timeline-title">
          <h2 id="timeline-title">{t('ticket.timeline')}</h2>
          <ol>
            {tk.timeline.map((e, i) => (
              <li key={i}>
                <time dateTime={e.at}>{dateTime(e.at)}</time> <b>{e.actor}</b> {e.type}
                {e.to ? ` → ${t(`status.${e.to}` as 'status.open')}` : ''}
                {e.note ? <p>{e.note}</p> : null}
              </li>
            ))}
          </ol>
        </section>
      )}
    </article>
  );
}
