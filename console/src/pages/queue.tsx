import { useCallback, useContext, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ApiError, api, OPEN_STATUSES, type Page, type SlaTarget, type Ticket } from '../api.js';
import { SlaBar } from '../components/sla-bar.js';
import { language, t, useLanguage } from '../i18n.js';
import { type LiveEvent, useEvents, useNow } from '../live.js';
import {
  type Filters,
  filtersOf,
  listPath,
  matches,
  queryOf,
  type Row,
  rowOf,
  rowsByUrgency,
} from '../queue-model.js';
import { SessionContext } from '../session.js';

const EVENT_TYPES = ['ticket.created', 'ticket.updated', 'ticket.occurrence', 'sla.warning', 'sla.breach'];
const NEW_FOR_MS = 60_000;
const CLOCK_ORDER: SlaTarget[] = ['response', 'remoteFix', 'onsite', 'resolution', 'visit'];

/**
 * The queue (issue 21): open tickets in urgency order — class, device, site, team, assignee, a bar
 * per SLA clock — kept current from the event stream without reloading. Filters live in the URL.
 * Only the rows in view are rendered (10k open tickets scroll as smoothly as 10).
 */
export function Queue() {
  useLanguage();
  const session = useContext(SessionContext);
  const { query, route, path } = useLocation();
  const filters = filtersOf(query);
  const key = queryOf(filters);
  const [rows, setRows] = useState<Map<string, Row>>(new Map());
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const now = useNow();
  const filtersRef = useRef(filters);
  filtersRef.current = filters;

  // Loads every page of the filtered queue; the first page shows at once.
  useEffect(() => {
    let cancelled = false;
    setLoading(true);
    setError(null);
    setRows(new Map());
    (async () => {
      let cursor: string | null = null;
      const base = listPath(filters, session.user);
      do {
        const page: Page<Ticket> = await api(
          'GET',
          cursor ? `${base}&cursor=${encodeURIComponent(cursor)}` : base,
        );
        if (cancelled) return;
        const at = Date.now();
        setRows((prev) => {
          const next = new Map(prev);
          for (const tk of page.items) next.set(tk.id, rowOf(tk, at, null));
          return next;
        });
        cursor = page.nextCursor;
      } while (cursor);
      setLoading(false);
    })().catch((err: unknown) => {
      if (!cancelled) {
        setError(err instanceof ApiError ? err.message : String(err));
        setLoading(false);
      }
    });
    return () => {
      cancelled = true;
    };
  }, [key, session.user]);

  const upsert = useCallback(
    (tk: Ticket, arrived: boolean) =>
      setRows((prev) => {
        const next = new Map(prev);
        const old = prev.get(tk.id);
        if (matches(tk, filtersRef.current, session.user))
          next.set(tk.id, rowOf(tk, Date.now(), old ? old.arrivedAt : arrived ? Date.now() : null));
        else next.delete(tk.id);
        return next;
      }),
    [session.user],
  );

  const onEvent = useCallback(
    (e: LiveEvent) => {
      if (e.type.startsWith('ticket.')) upsert(e.data as Ticket, e.type === 'ticket.created');
      // A clock changed level: read the ticket again (its clocks are not in the SLA event).
      else if (e.type.startsWith('sla.'))
        api<Ticket>('GET', `/tickets/${encodeURIComponent(e.subject)}`)
          .then((tk) => upsert(tk, false))
          .catch(() => undefined);
    },
    [upsert],
  );
  const live = useEvents(EVENT_TYPES, onEvent);

  const sorted = useMemo(() => [...rows.values()].sort(rowsByUrgency), [rows]);
  const setFilter = (patch: Partial<Filters>) => route(`${path}${queryOf({ ...filters, ...patch })}`);

  return (
    <section class="queue" aria-labelledby="queue-title">
      <header class="queue-head">
        <h1 id="queue-title">{t('queue.title')}</h1>
        <p class="queue-count" aria-live="polite">
          {loading && rows.size === 0
            ? t('queue.loading')
            : t('queue.count', { n: new Intl.NumberFormat(language()).format(sorted.length) })}
        </p>
        <span class={`live ${live ? 'live-up' : 'live-down'}`}>
          <span aria-hidden="true">{live ? '●' : '○'}</span> {live ? t('queue.live') : t('queue.offline')}
        </span>
      </header>
      <FilterBar filters={filters} onChange={setFilter} />
      {error ? (
        <p class="error" role="alert">
          {t('error.generic', { m: error })}
        </p>
      ) : null}
      {!loading && sorted.length === 0 && !error ? <p class="empty">{t('queue.empty')}</p> : null}
      <Rows rows={sorted} now={now} warnAt={session.settings.slaWarnAt} />
    </section>
  );
}

function FilterBar(props: { filters: Filters; onChange: (p: Partial<Filters>) => void }) {
  const session = useContext(SessionContext);
  const f = props.filters;
  const select = (
    id: keyof Filters,
    label: string,
    options: { value: string; label: string }[],
    value: string,
  ) => (
    <label class="filter" for={`filter-${id}`}>
      <span>{label}</span>
      <select
        id={`filter-${id}`}
        value={value}
        onChange={(e) => props.onChange({ [id]: (e.currentTarget as HTMLSelectElement).value })}
      >
        <option value="">{t('filter.any')}</option>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <form class="filters" aria-label={t('filter.status')} onSubmit={(e) => e.preventDefault()}>
      {select(
        'site',
        t('filter.site'),
        session.settings.sites.map((s) => ({ value: s.id, label: s.name })),
        f.site,
      )}
      {select(
        'team',
        t('filter.team'),
        session.settings.teams.map((s) => ({ value: s.id, label: s.name })),
        f.team,
      )}
      {select(
        'class',
        t('filter.class'),
        (['emergency', 'general', 'preventive'] as const).map((p) => ({
          value: p,
          label: t(`priority.${p}`),
        })),
        f.class,
      )}
      {select(
        'status',
        t('filter.status'),
        OPEN_STATUSES.map((s) => ({ value: s, label: t(`status.${s}`) })),
        f.status,
      )}
      {session.user.technician ? (
        <label class="filter filter-check">
          <input
            type="checkbox"
            checked={f.mine}
            onChange={(e) => props.onChange({ mine: e.currentTarget.checked })}
          />
          <span>{t('filter.mine')}</span>
        </label>
      ) : null}
      <button
        type="button"
        class="link"
        onClick={() => props.onChange({ site: '', team: '', class: '', status: '', mine: false })}
      >
        {t('filter.clear')}
      </button>
    </form>
  );
}

/** The rows in view and a few around them; the list keeps its full height so the scrollbar is true. */
function Rows(props: { rows: Row[]; now: number; warnAt: readonly number[] }) {
  const list = useRef<HTMLOListElement>(null);
  const [view, setView] = useState({ from: 0, to: 60 });
  const rowHeight = useRowHeight();
  useEffect(() => {
    const update = () => {
      const el = list.current;
      if (!el) return;
      const top = el.getBoundingClientRect().top;
      const first = Math.max(0, Math.floor(-top / rowHeight) - 10);
      const count = Math.ceil(window.innerHeight / rowHeight) + 20;
      setView((v) => (v.from === first && v.to === first + count ? v : { from: first, to: first + count }));
    };
    update();
    window.addEventListener('scroll', update, { passive: true });
    window.addEventListener('resize', update);
    return () => {
      window.removeEventListener('scroll', update);
      window.removeEventListener('resize', update);
    };
  }, [rowHeight]);
  const shown = props.rows.slice(view.from, view.to);
  const { settings } = useContext(SessionContext);
  const names = useMemo(
    () => ({
      sites: new Map(settings.sites.map((s) => [s.id, s.name])),
      teams: new Map(settings.teams.map((s) => [s.id, s.name])),
    }),
    [settings],
  );
  return (
    <ol
      ref={list}
      class="rows"
      style={{ height: `${props.rows.length * rowHeight}px`, position: 'relative' }}
      aria-label={t('queue.title')}
    >
      {shown.map((r, i) => (
        <TicketRow
          key={r.ticket.id}
          row={r}
          index={view.from + i}
          total={props.rows.length}
          top={(view.from + i) * rowHeight}
          now={props.now}
          warnAt={props.warnAt}
          names={names}
        />
      ))}
    </ol>
  );
}

/** Row height as the stylesheet sets it (`--row-height`: taller cards on narrow screens). */
function useRowHeight(): number {
  const read = () =>
    Number.parseFloat(getComputedStyle(document.documentElement).getPropertyValue('--row-height')) || 64;
  const [h, setH] = useState(read);
  useEffect(() => {
    const onResize = () => setH(read());
    window.addEventListener('resize', onResize);
    return () => window.removeEventListener('resize', onResize);
  }, []);
  return h;
}

const nameOf = (names: ReadonlyMap<string, string>, id: string | null) => (id ? (names.get(id) ?? id) : '—');

function TicketRow(props: {
  names: { sites: ReadonlyMap<string, string>; teams: ReadonlyMap<string, string> };
  row: Row;
  index: number;
  total: number;
  top: number;
  now: number;
  warnAt: readonly number[];
}) {
  const { ticket: tk, receivedAt, arrivedAt } = props.row;
  const isNew = arrivedAt !== null && props.now - arrivedAt < NEW_FOR_MS;
  return (
    <li
      class={`row row-${tk.priority}${isNew ? ' row-new' : ''}`}
      style={{ top: `${props.top}px` }}
      aria-setsize={props.total}
      aria-posinset={props.index + 1}
      data-ticket={tk.id}
    >
      <div class="cell cell-title">
        <a href={`/tickets/${encodeURIComponent(tk.id)}`}>
          <span class="ticket-id">{tk.id}</span> {tk.title}
        </a>
        {isNew ? <span class="badge badge-new">{t('queue.new')}</span> : null}
      </div>
      <div class="cell cell-class">
        <span class={`badge badge-${tk.priority}`}>{t(`priority.${tk.priority}`)}</span>
        <span class="status">{t(`status.${tk.status}` as 'status.open')}</span>
      </div>
      <div class="cell cell-where">
        <span title={t('col.device')}>{tk.deviceId ?? '—'}</span>
        <span title={t('col.site')}>{nameOf(props.names.sites, tk.site)}</span>
      </div>
      <div class="cell cell-who">
        <span title={t('col.team')}>{nameOf(props.names.teams, tk.team)}</span>
        <span title={t('col.assignee')}>
          {tk.assignees.length ? tk.assignees.join(', ') : t('ticket.unassigned')}
        </span>
      </div>
      <div class="cell cell-clocks">
        {CLOCK_ORDER.filter((k) => tk.sla[k]).map((k) => (
          <SlaBar
            key={k}
            target={k}
            clock={tk.sla[k] as NonNullable<Ticket['sla'][SlaTarget]>}
            receivedAt={receivedAt}
            now={props.now}
            warnAt={props.warnAt}
          />
        ))}
      </div>
    </li>
  );
}
