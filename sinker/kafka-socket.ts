// Broker connections that read each Kafka response straight into one buffer of its exact size.
//
// kafkajs's own socket hands it a fresh 64 KiB chunk per read (malloc'd below glibc's mmap
// threshold, so on the brk heap) and joins a response's chunks once it is complete. At 140 MB/s of
// fetches that is ~2,000 chunks a second that survive a scavenge or two while their response
// fills, then wait as garbage for a full GC: about 100 MB of the sinker's RSS was glibc heap
// holding them. Every Kafka response is a 4-byte big-endian size and that many bytes, so this
// socket reads the size, allocates the response's buffer, and lets the kernel write the rest
// directly into it (net.Socket's `onread` with a buffer per read): no chunks, one copy fewer, and
// kafkajs gets each response whole (and, with keepWholeResponses below, passes it on uncopied).
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import net from 'node:net';
import type { ISocketFactory } from 'kafkajs';

/** The keep-alive probe delay kafkajs's own factory sets on broker sockets. */
const KEEP_ALIVE_MS = 60_000;
/** A size past this is not a Kafka response (fetch.max.bytes is at most 50 MiB here): the stream is corrupt. */
export const MAX_FRAME_BYTES = 1 << 30;

/**
 * Splits a byte stream into size-prefixed frames, giving out the memory each next read goes into:
 * the 4 size bytes, then the rest of that frame's own buffer.
 */
export class FrameReader {
  readonly #size = Buffer.alloc(4);
  #frame: Buffer | undefined;
  #filled = 0;

  /** Where the next read writes; never empty. */
  target(): Buffer {
    return this.#frame ? this.#frame.subarray(this.#filled) : this.#size.subarray(this.#filled);
  }

  /** `n` bytes were written into the last target(); returns the frame (size bytes included) once complete. */
  advance(n: number): Buffer | undefined {
    this.#filled += n;
    if (!this.#frame) {
      if (this.#filled < 4) return undefined;
      const size = this.#size.readInt32BE(0);
      if (size < 0 || size > MAX_FRAME_BYTES) {
        throw new Error(`Kafka broker sent a response of ${size} bytes (at most ${MAX_FRAME_BYTES} expected)`);
      }
      this.#frame = Buffer.allocUnsafe(4 + size);
      this.#size.copy(this.#frame, 0);
    }
    if (this.#filled < this.#frame.length) return undefined;
    const done = this.#frame;
    this.#frame = undefined;
    this.#filled = 0;
    return done;
  }
}

const require = createRequire(import.meta.url);
/** kafkajs's own factory, for TLS: `onread` applies to plain sockets only. */
const kafkajsSocket = (require('kafkajs/src/network/socketFactory.js') as () => ISocketFactory)();

/** kafkajs `socketFactory`: plain connections read whole responses (above), TLS ones are kafkajs's. */
export const framedSocketFactory: ISocketFactory = (args) => {
  if (args.ssl) return kafkajsSocket(args);
  const frames = new FrameReader();
  const socket = net.connect({
    host: args.host,
    port: args.port,
    onread: {
      buffer: () => frames.target(),
      callback: (n: number) => {
        let frame: Buffer | undefined;
        try {
          frame = frames.advance(n);
        } catch (err) {
          socket.destroy(err as Error);
          return false;
        }
        // kafkajs listens for 'data'; with onread the stream itself emits none.
        if (frame) socket.emit('data', frame);
        return true;
      },
    },
  });
  socket.once('connect', args.onConnect);
  socket.setKeepAlive(true, KEEP_ALIVE_MS);
  return socket;
};

const WRAPPED = Symbol.for('doris-sinker.kafkajs.wholeResponses');
const FRESH = Symbol.for('doris-sinker.kafkajs.freshConnections');

interface KafkaJsConnection {
  chunks: Buffer[];
  bytesBuffered: number;
  bytesNeeded: number;
  isConnected(this: KafkaJsConnection): boolean;
  connect(this: KafkaJsConnection): Promise<boolean>;
  processData(this: KafkaJsConnection, data: Buffer): void;
}

const kafkajsConnection = (require('kafkajs/src/network/connection.js') as { prototype: KafkaJsConnection })
  .prototype as KafkaJsConnection & { [WRAPPED]?: true; [FRESH]?: true };

/**
 * kafkajs keeps what follows a response as one chunk (a zero-length one, with whole frames) and
 * joins it with the next data: a copy of every response. Dropping that empty chunk first hands
 * each frame on as it came. kafkajs 2.2.4 is its last release and the lockfile pins it; a unit
 * test fails if the method this wraps goes away. Returns whether the wrapper is in place.
 */
function keepWholeResponses(): boolean {
  const prototype = kafkajsConnection;
  if (typeof prototype.processData !== 'function') return false;
  if (prototype[WRAPPED]) return true;
  const processData = prototype.processData;
  prototype.processData = function (this: KafkaJsConnection, data: Buffer) {
    const chunks = this.chunks;
    if (chunks.length === 1 && chunks[0]!.length === 0) this.chunks = [];
    processData.call(this, data);
  };
  prototype[WRAPPED] = true;
  return true;
}

/** Whether kafkajs hands responses on without copying them (see keepWholeResponses). */
export const wholeResponses = keepWholeResponses();

/**
 * kafkajs keeps the bytes of a response it has only partly read on the Connection, which outlives
 * its sockets (it reconnects the same object), and never drops them: after a connection reset in
 * the middle of a response, the next socket's responses land behind that half response, kafkajs
 * waits for bytes that never come, and every request on the reconnected connection times out
 * without the connection being closed again: a consumer stalls for good with no error line.
 * Framed sockets never hand kafkajs half a response, TLS ones (kafkajs's own) do. So a connection
 * that (re)connects starts with no bytes of the last socket. Returns whether the wrapper is in place.
 */
function freshConnections(): boolean {
  const prototype = kafkajsConnection;
  if (typeof prototype.connect !== 'function' || typeof prototype.isConnected !== 'function') return false;
  if (prototype[FRESH]) return true;
  const connect = prototype.connect;
  prototype.connect = function (this: KafkaJsConnection) {
    if (!this.isConnected()) {
      this.chunks = [];
      this.bytesBuffered = 0;
      this.bytesNeeded = 4;
    }
    return connect.call(this);
  };
  prototype[FRESH] = true;
  return true;
}

/** Whether a kafkajs connection drops a cut response's bytes when it reconnects (see freshConnections). */
export const freshConnectionState = freshConnections();
