import type { Delivery, DeliveryState, EventType, Mail, StoredEvent, Webhook } from './outbox.js';

/** The outbox's rows as both stores (SQLite, PostgreSQL) lay them out, and what they map to. */

export interface MailRow {
  id: string;
  event_seq: number;
  to_addr: string;
  subject: string;
  text: string;
  state: DeliveryState;
  attempts: number;
  next_at: number;
  last_error: string | null;
  created_at: number;
  sent_at: number | null;
}

export const mailOf = (r: MailRow): Mail => ({
  id: r.id,
  eventSeq: r.event_seq,
  to: r.to_addr,
  subject: r.subject,
  text: r.text,
  state: r.state,
  attempts: r.attempts,
  nextAt: r.next_at,
  lastError: r.last_error,
  createdAt: r.created_at,
  sentAt: r.sent_at,
});

export interface EventRow {
  seq: number;
  type: EventType;
  at: number;
  subject: string;
  site: string | null;
  customer: string | null;
  /** JSON text (PostgreSQL's JSONB is read as `data::text`). */
  data: string;
}
export interface WebhookRow {
  id: string;
  url: string;
  types: string | string[];
  secret: string;
  description: string;
  active: number | boolean;
  created_at: number;
}
export interface DeliveryRow {
  id: string;
  webhook_id: string;
  event_seq: number;
  state: DeliveryState;
  attempts: number;
  next_at: number;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

export const eventOf = (r: EventRow): StoredEvent => ({ ...r, data: JSON.parse(r.data) as unknown });
export const webhookOf = (r: WebhookRow): Webhook => ({
  id: r.id,
  url: r.url,
  types: (typeof r.types === 'string' ? JSON.parse(r.types) : r.types) as string[],
  secret: r.secret,
  description: r.description,
  active: r.active === 1 || r.active === true,
  createdAt: r.created_at,
});
export const deliveryOf = (r: DeliveryRow): Delivery => ({
  id: r.id,
  webhookId: r.webhook_id,
  eventSeq: r.event_seq,
  state: r.state,
  attempts: r.attempts,
  nextAt: r.next_at,
  lastStatus: r.last_status,
  lastError: r.last_error,
  createdAt: r.created_at,
  deliveredAt: r.delivered_at,
});
