import mqttPacket from 'mqtt-packet';

/**
 * mqtt-packet (under aedes and mqtt.js) builds, at its first write, a cache of all 65,536 two-byte
 * numbers as Buffers: 7 MB of the gateway's heap for as long as it runs (issue 19: steady memory).
 * Without it, a packet id or length is written from a fresh two-byte Buffer. Must be set before the
 * first packet is written, so this module is imported by the broker and the client.
 */
mqttPacket.writeToStream.cacheNumbers = false;
