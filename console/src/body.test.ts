import { describe, expect, it } from 'vitest';
import { bodyOf, type FieldSpec } from './body.js';

describe('the console forms: request bodies from what people type', () => {
  const fields: FieldSpec[] = [
    { path: 'dispatch.appointmentAt', label: 'field.appointmentAt', kind: 'datetime' },
    { path: 'dispatch.technicians', label: 'field.technicians', kind: 'list' },
    { path: 'dispatch.parts', label: 'field.parts', kind: 'parts' },
    { path: 'dispatch.note', label: 'field.note', kind: 'textarea' },
    { path: 'score', label: 'field.score', kind: 'score' },
  ];

  it('nests values by path, splits lists and parts, leaves empty fields out, keeps the base', () => {
    const body = bodyOf(
      fields,
      {
        'dispatch.appointmentAt': '2026-12-24T09:30',
        'dispatch.technicians': ' ana, ben ,, ',
        'dispatch.parts': 'S-7:2, F-1, BOX2, seal kit x 3, G-9 × 1.5',
        'dispatch.note': '   ',
        score: '4',
      },
      { to: 'dispatched' },
    );
    expect(body).toEqual({
      to: 'dispatched',
      dispatch: {
        appointmentAt: new Date('2026-12-24T09:30').toISOString(),
        technicians: ['ana', 'ben'],
        parts: [
          { part: 'S-7', quantity: 2 },
          { part: 'F-1', quantity: 1 },
          { part: 'BOX2', quantity: 1 },
          { part: 'seal kit', quantity: 3 },
          { part: 'G-9', quantity: 1.5 },
        ],
      },
      score: 4,
    });
  });

  it('passes what it cannot read to the API as typed (the API says what is wrong, beside the field)', () => {
    expect(bodyOf(fields, { 'dispatch.appointmentAt': 'next tuesday' })).toEqual({
      dispatch: { appointmentAt: 'next tuesday' },
    });
    expect(bodyOf(fields, {})).toEqual({});
  });
});
