import { FaultlineError } from './errors.js';

/**
 * Opaque keyset-pagination cursors: the sort key of the last item of a page, base64url JSON.
 * Keyset (not offset) pagination stays correct while items are inserted between page requests.
 */
export function encodeCursor(key: readonly (string | number | null)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor(cursor: string, length: number): (string | number | null)[] {
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(key) &&
      key.length === length &&
      key.every((k) => k === null || typeof k === 'string' || typeof k === 'number')
    ) {
      return key as (string | number | null)[];
    }
  } catch {
    // fall through to the error below
  }
  throw new FaultlineError(
    'FL_ERR_API_BAD_CURSOR',
    `cursor "${cursor.slice(0, 40)}" is not one this API issued`,
  );
}

/** A page of a list, as every list route answers. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
