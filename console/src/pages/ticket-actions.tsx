import { useContext, useState } from 'preact/hooks';
import { mayMove, moveLabel, transition, transitionFields } from '../actions.js';
import { api, type Ticket } from '../api.js';
import { ActionForm, bodyOf, type FieldSpec } from '../components/action-form.js';
import { t } from '../i18n.js';
import { SessionContext } from '../session.js';

export type FullTicket = Ticket & {
  next: string[];
  report: { review: { state: 'pending' | 'accepted' | 'returned' } } | null;
  feedback: { score: number } | null;
};

const ASSIGN: FieldSpec[] = [{ path: 'add', label: 'field.assignee', kind: 'list', required: true }];
const COMMENT: FieldSpec[] = [{ path: 'note', label: 'field.comment', kind: 'textarea', required: true }];
const FINDINGS: FieldSpec[] = [{ path: 'findings', label: 'field.findings', kind: 'textarea' }];
const FEEDBACK: FieldSpec[] = [
  {
    path: 'score',
    label: 'field.score',
    kind: 'score',
    required: true,
    options: [5, 4, 3, 2, 1].map((n) => ({ value: String(n), label: '★'.repeat(n) + ` ${n}` })),
  },
  { path: 'comment', label: 'field.comment', kind: 'textarea' },
];

/**
 * What the signed-in role may do with the ticket, each a form the API validates: the moves the
 * ticket may make now, assigning, the review of the repair report, the customer's rating, comments.
 */
export function TicketActions(props: { ticket: FullTicket; onDone: () => void }) {
  const { user } = useContext(SessionContext);
  const tk = props.ticket;
  const [open, setOpen] = useState<string | null>(null);
  const path = (p: string) => `/tickets/${encodeURIComponent(tk.id)}${p}`;
  const dispatches = user.role === 'dispatcher' || user.role === 'admin';
  const moves = tk.next.filter((s) => mayMove(user.role, s));
  const done = () => {
    setOpen(null);
    props.onDone();
  };
  const panel = (key: string, label: string, form: () => preact.JSX.Element) => (
    <li key={key}>
      {open === key ? (
        form()
      ) : (
        <button type="button" onClick={() => setOpen(key)}>
          {label}
        </button>
      )}
    </li>
  );
  return (
    <section class="actions" aria-labelledby="actions-title">
      <h2 id="actions-title">{t('action.title')}</h2>
      <ul>
        {moves.map((to) =>
          panel(`move-${to}`, moveLabel(to), () => (
            <ActionForm
              id={`move-${to}`}
              fields={transitionFields(to)}
              submit={moveLabel(to)}
              onSubmit={(v) => transition(tk.id, to, transitionFields(to), v)}
              onDone={done}
              onCancel={() => setOpen(null)}
            />
          )),
        )}
        {dispatches
          ? panel('assign', t('action.assign'), () => (
              <ActionForm
                id="assign"
                fields={ASSIGN}
                submit={t('action.assign')}
                onSubmit={(v) => api('POST', path('/assignees'), bodyOf(ASSIGN, v))}
                onDone={done}
                onCancel={() => setOpen(null)}
              />
            ))
          : null}
        {dispatches && tk.report?.review.state === 'pending'
          ? panel('review', t('action.review'), () => (
              <div class="review">
                <ActionForm
                  id="review-accept"
                  fields={[]}
                  submit={t('action.accept')}
                  onSubmit={() => api('POST', path('/report/review'), { accepted: true })}
                  onDone={done}
                />
                <ActionForm
                  id="review-return"
                  fields={FINDINGS}
                  submit={t('action.return')}
                  onSubmit={(v) =>
                    api('POST', path('/report/review'), bodyOf(FINDINGS, v, { accepted: false }))
                  }
                  onDone={done}
                  onCancel={() => setOpen(null)}
                />
              </div>
            ))
          : null}
        {user.role === 'customer' && (tk.status === 'resolved' || tk.status === 'closed') && !tk.feedback
          ? panel('feedback', t('action.feedback'), () => (
              <ActionForm
                id="feedback"
                fields={FEEDBACK}
                submit={t('action.send')}
                onSubmit={(v) => api('POST', path('/feedback'), bodyOf(FEEDBACK, v))}
                onDone={done}
                onCancel={() => setOpen(null)}
              />
            ))
          : null}
        {user.role !== 'customer' && user.role !== 'viewer' && user.role !== 'supervisor'
          ? panel('comment', t('action.comment'), () => (
              <ActionForm
                id="comment"
                fields={COMMENT}
                submit={t('action.comment')}
                onSubmit={(v) => api('POST', path('/comments'), bodyOf(COMMENT, v))}
                onDone={done}
                onCancel={() => setOpen(null)}
              />
            ))
          : null}
      </ul>
    </section>
  );
}
