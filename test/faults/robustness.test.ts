import { writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getJson, startCli, tempDir, waitFor, writeFiles } from '../helpers.js';

/**
 * Issue 18, finding 7, with the built CLI: a clean stop although a Modbus device went away, one
 * gateway per data directory, and a corrupted data file named with what to do.
 */
describe('faults: stop, data directory, data files (issue 18)', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('SIGTERM stops cleanly within the shutdown timeout although the Modbus device went away', async () => {
    // A "device" that accepts the connection, never answers, then disappears: its sockets are gone
    // when the gateway stops (modbus-serial's close() waits for a 'close' event that never comes).
    const sockets: Socket[] = [];
    const device = createServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => device.listen(0, '127.0.0.1', r));
    const port = (device.address() as { port: number }).port;
    const dir = join(tmp.dir, 'modbus');
    writeFiles(dir, {
      'faultline.yaml': `
models:
  meter:
    modbus:
      registers: [{ name: voltage, table: input, address: 0, type: float32 }]
adapters:
  - protocol: modbus
    id: switchboard
    host: 127.0.0.1
    port: ${port}
    interval: 200ms
    timeout: 300ms
    reconnectAfterTimeouts: 100
    devices: [{ id: meter-1, unit: 1, model: meter }]
rules: { files: [] }
shutdown: { timeout: 5s }
`,
    });
    const gw = await startCli(['--config', join(dir, 'faultline.yaml'), '--data-dir', join(dir, 'data')]);
    await waitFor(async () => {
      const d = await getJson<{ sources: { deviceStats?: unknown; details: Record<string, unknown> }[] }>(
        gw.api('/devices/meter-1'),
      );
      return JSON.stringify(d.body).includes('"timeouts":') &&
        !JSON.stringify(d.body).includes('"timeouts":0')
        ? true
        : undefined;
    }, 10_000);
    for (const s of sockets) s.destroy(); // the device is unplugged
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const code = await gw.stop();
    const tookMs = Date.now() - t0;
    device.close();
    console.log(`Modbus device gone: the gateway stopped in ${tookMs} ms (shutdown.timeout 5 s)`);
    expect(code).toBe(0);
    expect(tookMs).toBeLessThan(4_000);
    expect(gw.output()).toContain('"msg":"stopped"');
  }, 30_000);

  it('a second gateway on the same data directory refuses to start, naming the first', async () => {
    const dir = join(tmp.dir, 'twice');
    writeFiles(dir, { 'faultline.yaml': 'rules: { files: [] }\n' });
    const args = ['--config', join(dir, 'faultline.yaml'), '--data-dir', join(dir, 'data')];
    const first = await startCli(args);
    try {
      const second = await startCli(args).then(
        () => '',
        (err: { output: string }) => err.output,
      );
      expect(second).toContain('"code":"FL_ERR_DATA_DIR_LOCKED"');
      expect(second).toContain(`(pid ${first.child.pid} on `);
      // The first one is untouched.
      expect((await getJson(first.api('/tickets'))).status).toBe(200);
    } finally {
      expect(await first.stop()).toBe(0);
    }
    // Once it stopped, the directory is free; after a SIGKILL its stale lock is taken over.
    const again = await startCli(args);
    again.child.kill('SIGKILL');
    await new Promise((r) => again.child.once('exit', r));
    const after = await startCli(args);
    expect(await after.stop()).toBe(0);
  }, 60_000);

  it('a corrupted SQLite file gives a coded error naming the file and what to do', async () => {
    const dir = join(tmp.dir, 'corrupt');
    writeFiles(dir, { 'faultline.yaml': 'rules: { files: [] }\n' });
    const data = join(dir, 'data');
    const args = ['--config', join(dir, 'faultline.yaml'), '--data-dir', data];
    const ok = await startCli(args);
    expect(await ok.stop()).toBe(0);
    writeFileSync(join(data, 'state.db'), Buffer.alloc(8192, 0x5a)); // overwritten: not a database
    const out = await startCli(args).then(
      () => '',
      (err: { output: string }) => err.output,
    );
    expect(out).toContain('"code":"FL_ERR_DATA_FILE"');
    expect(out).toContain(`${join(data, 'state.db')} is not a SQLite database`);
    expect(out).toMatch(/restore it from a backup, or move it away to start with an empty one/);
  }, 30_000);
});
