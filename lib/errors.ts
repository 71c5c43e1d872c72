/**
 * The one catalogue of Faultline's coded errors (`FL_ERR_<AREA>_<WHAT>`).
 * `status` is the HTTP status used when the error reaches the API. docs/errors.md lists the same
 * table; errors.test.ts keeps the two in step.
 */
export const ERRORS = {
  FL_ERR_RULES_INVALID: { status: 400, title: 'Invalid rule file' },
  FL_ERR_RULES_RELOAD_FAILED: { status: 422, title: 'Rules not reloaded' },
  FL_ERR_RULE_NOT_FOUND: { status: 404, title: 'Rule not found' },
  FL_ERR_SILENCE_NOT_FOUND: { status: 404, title: 'Maintenance window not found' },
  FL_ERR_API_VALIDATION: { status: 400, title: 'Invalid request' },
  FL_ERR_API_NOT_FOUND: { status: 404, title: 'Not found' },
  FL_ERR_API_BAD_CURSOR: { status: 400, title: 'Invalid pagination cursor' },
  FL_ERR_TICKET_NOT_FOUND: { status: 404, title: 'Ticket not found' },
  FL_ERR_TICKET_TRANSITION: { status: 409, title: 'Ticket transition not allowed' },
  FL_ERR_ALERT_NOT_FOUND: { status: 404, title: 'Alert not found' },
  FL_ERR_DEVICE_NOT_FOUND: { status: 404, title: 'Device not found' },
  FL_ERR_CUSTOMER_NOT_FOUND: { status: 404, title: 'Customer not found' },
  FL_ERR_AUTH_REQUIRED: { status: 401, title: 'Authentication required' },
  FL_ERR_AUTH_FORBIDDEN: { status: 403, title: 'Not allowed' },
  FL_ERR_AUTH_SIGN_IN: { status: 401, title: 'Sign-in refused' },
  FL_ERR_AUTH_CSRF: { status: 403, title: 'Missing or invalid CSRF token' },
  FL_ERR_API_RATE_LIMITED: { status: 429, title: 'Too many requests' },
  FL_ERR_API_KEY_NOT_FOUND: { status: 404, title: 'API key not found' },
  FL_ERR_USER_NOT_FOUND: { status: 404, title: 'User not found' },
  FL_ERR_USER_EXISTS: { status: 409, title: 'User name taken' },
  FL_ERR_USER_PASSWORD: { status: 400, title: 'Password not accepted' },
  FL_ERR_WEBHOOK_NOT_FOUND: { status: 404, title: 'Webhook not found' },
  FL_ERR_PART_NOT_FOUND: { status: 404, title: 'Part not found' },
  FL_ERR_STOCK_SHORT: { status: 409, title: 'Not enough in stock' },
  FL_ERR_CONFIG: { status: 500, title: 'Configuration error' },
  FL_ERR_DATA_DIR: { status: 500, title: 'Data directory not usable' },
  FL_ERR_DATA_DIR_LOCKED: { status: 500, title: 'Data directory in use by another gateway' },
  FL_ERR_DATA_FILE: { status: 500, title: 'Data file not usable' },
  FL_ERR_DB_SCHEMA: { status: 500, title: 'Database schema newer than this gateway' },
  FL_ERR_DB_UNAVAILABLE: { status: 503, title: 'Database unavailable' },
  FL_ERR_STATE_NOT_STORED: { status: 503, title: 'Change not stored' },
  FL_ERR_INTERNAL: { status: 500, title: 'Internal error' },
  FL_ERR_API_UNAVAILABLE: { status: 503, title: 'Service unavailable' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class FaultlineError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly title: string;
  /** Machine-readable detail carried to the API's problem+json body (e.g. validation issues). */
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FaultlineError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.title = ERRORS[code].title;
    this.details = options.details;
  }
}

export function isFaultlineError(err: unknown): err is FaultlineError {
  return err instanceof FaultlineError;
}
