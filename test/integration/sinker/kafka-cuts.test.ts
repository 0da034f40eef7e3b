// Broker connections cut inside a response: a proxy in front of the test bed's broker forwards
// responses but closes (FIN) or resets (RST) a connection part-way through a fetch response,
// inside its 4-byte size and inside its body, eight times. A kafkajs consumer reading through the
// sinker's socket factory (sinker/kafka-socket.ts: framed plain sockets, kafkajs's own for TLS),
// plain and over TLS, must see each cut as a connection error, reconnect, and read every message
// of the topic exactly once with its value intact. In-process rather than the sinker itself: the
// broker advertises its own address, so only a client whose sockets are redirected stays behind the
// proxy after the bootstrap.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import kafkajs, { type ISocketFactory } from 'kafkajs';
import { framedSocketFactory } from '../../../sinker/kafka-socket.ts';
import { idempotentProducer } from '../../support/produce.ts';
import { testbed } from '../../support/testbed.ts';
import { createTopic, type Scenario, scenario } from './helpers.ts';

const { Kafka, logLevel } = kafkajs;
const MESSAGES = 20_000;
const CUTS = 8;
/** Only fetch responses carrying data are cut: the group's own requests pass. */
const CUT_FRAMES_FROM = 100_000;
const s: Scenario = scenario('kafka-cuts', 2);
const [brokerHost, brokerPort] = testbed('KAFKA_BOOTSTRAP').split(',')[0]!.split(':') as [string, string];

function kafka() {
  return new Kafka({ brokers: testbed('KAFKA_BOOTSTRAP').split(','), logLevel: logLevel.NOTHING, clientId: 'it-cuts' });
}

/**
 * Plain or TLS in front, plain to the broker. Parses the broker's response sizes and cuts the first
 * CUTS responses of CUT_FRAMES_FROM bytes or more: forwards the bytes before the cut point, then
 * closes or resets the client's connection. The cut points go through the size (after 0-3 of its
 * bytes) and the body (1/8 to 7/8 of it); even cuts close, odd ones reset.
 */
class CuttingProxy {
  readonly cuts: string[] = [];
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();

  constructor(secure?: { key: Buffer; cert: Buffer }) {
    if (!secure) {
      this.#server = net.createServer((client) => this.#pipe(client, client));
      return;
    }
    // A TLS socket cannot send a reset itself: its TCP connection, seen first, does.
    const tcp = new Map<number | undefined, net.Socket>();
    this.#server = tls.createServer(secure, (client) => {
      const raw = tcp.get(client.remotePort) ?? client;
      tcp.delete(client.remotePort);
      this.#pipe(client, raw);
    });
    this.#server.on('connection', (raw: net.Socket) => tcp.set(raw.remotePort, raw));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** Stops listening and drops the connections still open (kafkajs half-closes its own). */
  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  /** Client to broker as it comes; broker to client response by response, cut as above (`tcp`: the client's TCP socket). */
  #pipe(client: net.Socket, tcp: net.Socket): void {
    client.on('error', () => {});
    const broker = net.connect(Number(brokerPort), brokerHost);
    for (const socket of [client, broker]) {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    }
    broker.on('error', () => client.destroy());
    client.on('close', () => broker.destroy());
    client.pipe(broker);
    const size = Buffer.alloc(4);
    let sizeBytes = 0;
    let bodyLeft = 0;
    let cut = false;
    broker.on('data', (chunk: Buffer) => {
      if (cut) return;
      let at = 0;
      while (at < chunk.length) {
        if (bodyLeft > 0) {
          const n = Math.min(bodyLeft, chunk.length - at);
          bodyLeft -= n;
          at += n;
          continue;
        }
        const frameStart = at - sizeBytes; // negative when the size began in an earlier chunk
        const n = Math.min(4 - sizeBytes, chunk.length - at);
        chunk.copy(size, sizeBytes, at, at + n);
        sizeBytes += n;
        at += n;
        if (sizeBytes < 4) continue;
        sizeBytes = 0;
        bodyLeft = size.readInt32BE(0);
        if (bodyLeft < CUT_FRAMES_FROM || this.cuts.length >= CUTS) continue;
        const k = this.cuts.length;
        const point = k % 2 === 0 ? k / 2 : 4 + Math.floor((bodyLeft * k) / CUTS);
        const reset = k % 2 === 1;
        this.cuts.push(`${reset ? 'reset' : 'closed'} at byte ${point} of a ${4 + bodyLeft}-byte response`);
        cut = true;
        const end = Math.max(0, Math.min(chunk.length, frameStart + point));
        client.write(chunk.subarray(0, end), () => {
          // The bytes before the cut reach the client first.
          setTimeout(() => (reset ? tcp.resetAndDestroy() : client.destroy()), 50);
          broker.destroy();
        });
        return;
      }
      client.write(chunk);
    });
    broker.on('end', () => client.end());
  }
}

/** A throwaway self-signed certificate for the TLS proxy. */
function selfSigned(): { key: Buffer; cert: Buffer } {
  const key = join(s.dir, 'proxy.key');
  const cert = join(s.dir, 'proxy.crt');
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'],
      ...['-keyout', key, '-out', cert],
    ],
    { stdio: 'pipe' },
  );
  return { key: readFileSync(key), cert: readFileSync(cert) };
}

const value = (id: number) => JSON.stringify({ id, pad: 'x'.repeat(200 + (id % 300)) });

before(async () => {
  await createTopic(s);
  const producer = idempotentProducer(kafka());
  await producer.connect();
  try {
    for (let at = 0; at < MESSAGES; at += 1000) {
      const ids = Array.from({ length: 1000 }, (_, j) => at + j + 1);
      await producer.send({
        topic: s.topic,
        acks: -1,
        messages: ids.map((id) => ({ key: String(id), value: value(id) })),
      });
    }
  } finally {
    await producer.disconnect();
  }
});

after(async () => {
  const admin = kafka().admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [s.topic] }).catch(() => {});
  await admin.deleteGroups([`${s.group}-plain`, `${s.group}-tls`]).catch(() => {});
  await admin.disconnect();
});

for (const mode of ['plain', 'tls'] as const) {
  test(`${mode}: connections cut inside fetch responses reconnect; every message read once, intact`, async (t) => {
    const proxy = new CuttingProxy(mode === 'tls' ? selfSigned() : undefined);
    const port = await proxy.listen();
    // Every connection kafkajs opens, the bootstrap's and the advertised broker's, goes to the proxy.
    const socketFactory: ISocketFactory = (args) => framedSocketFactory({ ...args, host: '127.0.0.1', port });
    const errors: string[] = [];
    const client = new Kafka({
      clientId: `it-cuts-${mode}`,
      brokers: [`127.0.0.1:${port}`],
      socketFactory,
      ...(mode === 'tls' ? { ssl: { rejectUnauthorized: false } } : {}),
      logLevel: logLevel.ERROR,
      logCreator: () => (entry) => errors.push(entry.log.message),
      retry: { initialRetryTime: 100, retries: 10 },
    });
    const consumer = client.consumer({ groupId: `${s.group}-${mode}`, maxWaitTimeInMs: 200 });
    const seen = new Map<number, number>();
    const wrong: string[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: s.topic, fromBeginning: true });
      await consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            const id = Number(m.key?.toString());
            if (m.value?.toString() !== value(id)) wrong.push(`offset ${batch.partition}/${m.offset}`);
            seen.set(id, (seen.get(id) ?? 0) + 1);
          }
        },
      });
      const deadline = Date.now() + 120_000;
      while (seen.size < MESSAGES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      // Anything read twice would come with the next fetches.
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await consumer.disconnect();
      await proxy.close();
    }
    t.diagnostic(`cuts: ${proxy.cuts.join('; ')}`);
    t.diagnostic(`kafkajs errors: ${JSON.stringify([...new Set(errors)])}`);
    assert.equal(proxy.cuts.length, CUTS, `the proxy cut ${CUTS} responses: ${proxy.cuts.join('; ')}`);
    assert.equal(
      seen.size,
      MESSAGES,
      `read ${seen.size} of ${MESSAGES} messages; kafkajs said: ${errors.slice(-5).join(' | ')}`,
    );
    const twice = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
    assert.deepEqual(twice.slice(0, 10), [], `${twice.length} messages read more than once`);
    assert.deepEqual(wrong.slice(0, 10), [], 'values read as produced');
    // Before each reconnected connection started empty, TLS ones read their responses behind the
    // cut one's bytes: fetches timed out and the consumer crashed ('Request Fetch(...) timed out').
    assert.deepEqual(
      errors.filter((e) => /timed out/.test(e)),
      [],
      'every request on a reconnected connection is answered',
    );
    assert.ok(
      errors.some((e) => /ECONNRESET/.test(e)),
      `kafkajs saw the resets as connection errors: ${errors.slice(0, 5).join(' | ')}`,
    );
  });
}
