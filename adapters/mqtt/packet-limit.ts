/**
 * The maximum packet size for aedes, which has no such option (aedes 1.x; mqtt-packet 9.x parses a
 * whole packet into memory however large its Remaining Length says it is: one 250 MB PUBLISH held
 * 550 MB, issue 18). The connection's mqtt-packet parser reads the fixed header's Remaining Length
 * in `_parseLength` ([MQTT-2.2.3]); right after it, a length over the limit closes the connection
 * before the payload is buffered.
 *
 * `_parseLength` and `packet.length` are mqtt-packet internals: the pinned version is tested by
 * adapters/mqtt/packet-limit.test.ts, and a parser without them throws here at the first connection
 * rather than running without the limit.
 */
export function limitPacketSize(parser: unknown, maxBytes: number, onOversize: () => void): void {
  const p = parser as {
    _parseLength?: () => boolean;
    packet?: { length: number };
  } | null;
  const original = p?._parseLength;
  if (!p || typeof original !== 'function')
    throw new Error('mqtt-packet parser without _parseLength: the packet size limit cannot be enforced');
  p._parseLength = function parseLengthWithLimit(this: typeof p): boolean {
    const ok = original.call(this);
    if (ok && (this?.packet?.length ?? 0) > maxBytes) {
      onOversize();
      return false; // stops this parse round; the socket is destroyed by onOversize
    }
    return ok;
  };
}
