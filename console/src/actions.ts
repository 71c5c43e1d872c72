import { api, type Role, type Ticket } from './api.js';
import { bodyOf, type FieldSpec, type Values } from './components/action-form.js';
import { type Key, t } from './i18n.js';

/** What a ticket may be moved to, and what each move asks (the API's transition body). */
const note: FieldSpec = { path: 'note', label: 'field.note', kind: 'textarea' };

export function transitionFields(to: string): FieldSpec[] {
  switch (to) {
    case 'dispatched':
      return [
        { path: 'dispatch.appointmentAt', label: 'field.appointmentAt', kind: 'datetime', required: true },
        { path: 'dispatch.technicians', label: 'field.technicians', kind: 'list' },
        { path: 'dispatch.team', label: 'field.team', kind: 'text' },
        { path: 'dispatch.tools', label: 'field.tools', kind: 'list' },
        { path: 'dispatch.parts', label: 'field.parts', kind: 'parts' },
        { path: 'dispatch.note', label: 'field.note', kind: 'textarea' },
      ];
    case 'waiting':
      return [
        {
          path: 'waitingOn',
          label: 'field.waitingOn',
          kind: 'select',
          required: true,
          options: (['customer', 'parts', 'third_party'] as const).map((w) => ({
            value: w,
            label: t(`wait.${w}`),
          })),
        },
        note,
      ];
    case 'resolved':
      return [
        { path: 'report.cause', label: 'field.cause', kind: 'textarea', required: true },
        { path: 'report.actions', label: 'field.actions', kind: 'textarea', required: true },
        { path: 'report.partsUsed', label: 'field.partsUsed', kind: 'parts' },
        { path: 'report.prevention', label: 'field.prevention', kind: 'textarea' },
      ];
    default:
      return [note];
  }
}

/** The button's words for a move to `to`. */
export function moveLabel(to: string): string {
  return t(`move.${to}` as Key);
}

export function transition(ticketId: string, to: string, fields: readonly FieldSpec[], values: Values) {
  return api<Ticket>(
    'POST',
    `/tickets/${encodeURIComponent(ticketId)}/transitions`,
    bodyOf(fields, values, { to }),
  );
}

/**
 * The one next step a technician takes on a ticket in their hands (the phone view's big button):
 * respond, start the diagnosis, report arrival on site, report the fix, resume after a wait.
 */
export function technicianNext(status: string, next: readonly string[]): string | undefined {
  const preferred: Record<string, string[]> = {
    open: ['acknowledged'],
    acknowledged: ['diagnosing'],
    diagnosing: ['resolved'],
    dispatched: ['on_site'],
    on_site: ['resolved'],
    waiting: ['diagnosing', 'on_site', 'acknowledged'],
  };
  return (preferred[status] ?? []).find((s) => next.includes(s));
}

/** Moves a role may make (the API checks again: a technician only on tickets assigned to them). */
export function mayMove(role: Role, to: string): boolean {
  if (role === 'admin' || role === 'dispatcher') return true;
  if (role === 'technician') return to !== 'closed' && to !== 'cancelled';
  return false;
}
