import bytes from 'bytes';
import { z } from 'zod';

// `bytes` reads 1024-based KB, MB, GB, TB; it silently misreads other suffixes (`1GiB` → 1), so the
// accepted forms are checked first.
const SIZE = /^\d+(\.\d+)?\s*(b|kb|mb|gb|tb)?$/i;

/** zod type for a size: `512MB`, `1GB`, or a number of bytes. The parsed value is bytes. */
export const byteSize = z.union([z.number().int().min(0), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const n = SIZE.test(v.trim()) ? bytes.parse(v.trim()) : null;
  if (n === null || !Number.isFinite(n)) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a size such as 512MB or 2GB (1024-based), got "${v}"`,
    });
    return z.NEVER;
  }
  return Math.floor(n);
});
