import { PassThrough } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import './broker.js';

describe('mqtt-packet number cache', () => {
  it('is off once the broker is loaded, and packets are still written right without it', () => {
    expect(mqttPacket.writeToStream.cacheNumbers).toBe(false);
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    mqttPacket.writeToStream({ cmd: 'puback', messageId: 0x1234 }, out);
    out.end();
    return new Promise<void>((done) =>
      out.on('end', () => {
        expect([...Buffer.concat(chunks)]).toEqual([0x40, 0x02, 0x12, 0x34]);
        done();
      }),
    );
  });
});
