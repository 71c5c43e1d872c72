import { DataType, LocalizedText, QualifiedName } from 'node-opcua';
import { describe, expect, it } from 'vitest';
import { codesOf, toField } from './adapter.js';
import { opcuaAdapterSchema } from './config.js';

const base = { protocol: 'opcua', id: 'plc', endpointUrl: 'opc.tcp://plc:4840' };
const issues = (o: Record<string, unknown>) =>
  opcuaAdapterSchema
    .safeParse({ ...base, ...o })
    .error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);

describe('OPC UA adapter configuration', () => {
  it('an item has exactly one of nodeId and browsePath; a malformed browse path is refused', () => {
    expect(issues({ items: [{ device: 'd', metric: 'm' }] })).toEqual([
      'items.0.nodeId: give exactly one of nodeId and browsePath',
    ]);
    expect(
      issues({ items: [{ nodeId: 'ns=1;i=5', browsePath: '/Objects/1:A', device: 'd', metric: 'm' }] }),
    ).toEqual(['items.0.nodeId: give exactly one of nodeId and browsePath']);
    const bad = issues({ items: [{ browsePath: 'Objects/1:A', device: 'd', metric: 'm' }] });
    expect(bad?.[0]).toMatch(/^items\.0\.browsePath: not a browse path: Malformed relative path/);
    expect(issues({ items: [{ browsePath: '/Objects/2:Line.2:Speed', device: 'd', metric: 'm' }] })).toBe(
      undefined,
    );
  });

  it('user: anonymous, user name and password, or an X.509 certificate and key', () => {
    const items = [{ nodeId: 'ns=1;i=5', device: 'd', metric: 'm' }];
    expect(issues({ items })).toBeUndefined();
    expect(issues({ items, user: { username: 'alice', password: 'x' } })).toBeUndefined();
    expect(issues({ items, user: { certificate: 'u.pem', privateKey: 'u.key' } })).toBeUndefined();
    expect(issues({ items, user: { certificate: 'u.pem' } })).toHaveLength(1);
  });
});

describe('OPC UA values as readings', () => {
  it('numbers, booleans, strings as they are; text of LocalizedText; 64-bit words; no structures', () => {
    expect(toField(42.5)).toBe(42.5);
    expect(toField(false)).toBe(false);
    expect(toField('AUTO')).toBe('AUTO');
    expect(toField(new LocalizedText({ text: 'Running', locale: 'en' }))).toBe('Running');
    expect(toField(new QualifiedName({ namespaceIndex: 1, name: 'Idle' }))).toBe('Idle');
    expect(toField([1, 5], DataType.UInt64)).toBe(2 ** 32 + 5);
    expect(toField([0xffffffff, 0xfffffffe], DataType.Int64)).toBe(-2);
    expect(toField([1, 5], DataType.Double)).toBeUndefined();
    expect(toField(BigInt(7))).toBe(7);
    expect(toField([1, 2, 3])).toBeUndefined();
    expect(toField(null)).toBeUndefined();
    expect(toField({ a: 1 })).toBeUndefined();
  });

  it('error codes of state variables: the value itself, or a table', () => {
    expect(codesOf(true, 'E-JAM')).toEqual(['E-JAM']);
    expect(codesOf(true, 17)).toEqual(['17']);
    expect(codesOf(true, '')).toEqual([]);
    expect(codesOf(true, 0)).toEqual([]);
    const table = { '3': 'E-JAM', FAULT: 'E-FAULT' };
    expect(codesOf(table, 3)).toEqual(['E-JAM']);
    expect(codesOf(table, 'FAULT')).toEqual(['E-FAULT']);
    expect(codesOf(table, 1)).toEqual([]);
  });
});
