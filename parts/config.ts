import { z } from 'zod';
import { duration } from '../lib/duration.js';

/**
 * The `parts` section (R4.2): where stock is kept, the catalogue with minimum and reorder levels
 * and suppliers, and the stock to start with. Quantities after that live in state.db and change
 * through receipts, reservations, use and adjustments.
 */
const id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, 'ids are 1-64 letters, digits, ".", "_", ":" or "-"');

export const locationSchema = z
  .object({
    id,
    name: z.string().min(1).optional(),
    /** A central store, a technician's van, or a partner team's stock. */
    kind: z.enum(['store', 'van', 'partner']).default('store'),
    /** The technician whose van it is (kind van). */
    technician: z.string().min(1).optional(),
    /** The team it serves (a partner team's stock). */
    team: z.string().min(1).optional(),
    /** The sites it is near (parts for tickets there are taken from here first). */
    sites: z.array(z.string().min(1)).default([]),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (l.kind === 'van' && !l.technician)
      ctx.addIssue({ code: 'custom', path: ['technician'], message: 'a van names its technician' });
  });

export const supplierSchema = z
  .object({
    id,
    name: z.string().min(1).optional(),
    /** From order to delivery. */
    leadTime: duration,
    price: z.number().nonnegative().optional(),
    currency: z.string().length(3).default('EUR'),
    /** The supplier ordered from first. */
    preferred: z.boolean().default(false),
  })
  .strict();

export const partSchema = z
  .object({
    /** The part number. */
    number: id,
    name: z.string().min(1),
    category: z.string().min(1),
    unit: z.string().min(1).default('pcs'),
    /** Models it fits (globs); empty: any. */
    models: z.array(z.string().min(1)).default([]),
    /** Critical: a failure waits on it; it should have at least two suppliers. */
    critical: z.boolean().default(false),
    /** Keep at least this many available (all locations). */
    minimum: z.number().nonnegative().default(0),
    /** Order when available stock falls to this level. */
    reorderLevel: z.number().nonnegative().optional(),
    suppliers: z.array(supplierSchema).default([]),
  })
  .strict();

export const partsSchema = z
  .object({
    locations: z.array(locationSchema).default([]),
    catalogue: z.array(partSchema).default([]),
    /**
     * The fault → parts map where the repair reports should not decide: what a repair of this fault
     * on this model takes (replaces what was learnt from the reports).
     */
    faultMap: z
      .array(
        z
          .object({
            model: z.string().min(1),
            faultType: z.string().min(1),
            parts: z.array(z.object({ part: z.string().min(1), quantity: z.number().positive() }).strict()),
          })
          .strict(),
      )
      .default([]),
    /** How far back the fault rates and the parts per repair are learnt. */
    history: duration.prefault('365d'),
    /**
     * Stock to start with: applied once per (part, location) that has no stock yet; and the levels
     * kept there (a van's kit: `minimum`, `reorderLevel` per location).
     */
    stock: z
      .array(
        z
          .object({
            part: z.string().min(1),
            location: z.string().min(1),
            quantity: z.number().nonnegative().default(0),
            minimum: z.number().nonnegative().optional(),
            reorderLevel: z.number().nonnegative().optional(),
          })
          .strict(),
      )
      .default([]),
  })
  .strict()
  .superRefine((p, ctx) => {
    const locations = new Set(p.locations.map((l) => l.id));
    const parts = new Set(p.catalogue.map((x) => x.number));
    const dup = (list: string[], path: string, what: string) => {
      const seen = new Set<string>();
      list.forEach((v, i) => {
        if (seen.has(v))
          ctx.addIssue({ code: 'custom', path: [path, i], message: `duplicate ${what} "${v}"` });
        seen.add(v);
      });
    };
    dup(
      p.locations.map((l) => l.id),
      'locations',
      'location id',
    );
    dup(
      p.catalogue.map((x) => x.number),
      'catalogue',
      'part number',
    );
    p.stock.forEach((s, i) => {
      if (!parts.has(s.part))
        ctx.addIssue({ code: 'custom', path: ['stock', i, 'part'], message: `unknown part "${s.part}"` });
      if (!locations.has(s.location))
        ctx.addIssue({
          code: 'custom',
          path: ['stock', i, 'location'],
          message: `unknown location "${s.location}"`,
        });
    });
  });

export type PartsConfig = z.output<typeof partsSchema>;
export type Part = PartsConfig['catalogue'][number];
export type StockLocation = PartsConfig['locations'][number];
