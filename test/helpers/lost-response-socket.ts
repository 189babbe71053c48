// A kafkajs socket factory that can lose one Produce response: the request reaches the real broker,
// which writes the batch, and the connection then fails before the client reads the answer — what a
// broker restart or a network cut does to a request in flight. Everything else passes through.
import net from 'node:net';
import type { ISocketFactory } from 'kafkajs';

/** Kafka API key of Produce requests (the int16 after the 4-byte size of a request frame). */
const PRODUCE = 0;

export interface LostResponseSockets {
  socketFactory: ISocketFactory;
  /** The next `count` Produce responses (on any connection) are dropped, each failing its connection. */
  loseNextProduceResponses(count?: number): void;
  /** How many responses were dropped so far. */
  readonly lost: number;
}

export function lostResponseSockets(): LostResponseSockets {
  let armed = 0;
  let lost = 0;
  const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
    const socket = net.connect({ host, port }, onConnect);
    const produceIds = new Set<number>();
    const write = socket.write.bind(socket) as (chunk: Buffer, ...rest: unknown[]) => boolean;
    // kafkajs writes one whole request frame per call: size, api key, version, correlation id, ...
    socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
      if (chunk.length >= 12 && chunk.readInt16BE(4) === PRODUCE) produceIds.add(chunk.readInt32BE(8));
      return write(chunk, ...rest);
    }) as typeof socket.write;
    let pending = Buffer.alloc(0);
    const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
    socket.emit = ((event: string | symbol, ...args: unknown[]) => {
      if (event !== 'data') return emit(event, ...args);
      // Responses are cut into frames (size, correlation id, ...) so that one can be held back.
      pending = Buffer.concat([pending, args[0] as Buffer]);
      while (pending.length >= 8 && pending.length >= 4 + pending.readInt32BE(0)) {
        const frame = pending.subarray(0, 4 + pending.readInt32BE(0));
        pending = pending.subarray(frame.length);
        if (armed > 0 && produceIds.has(frame.readInt32BE(4))) {
          armed -= 1;
          lost += 1;
          socket.destroy(new Error('connection lost after the broker wrote the batch (test fault)'));
          return true;
        }
        emit('data', frame);
      }
      return true;
    }) as typeof socket.emit;
    return socket;
  };
  return {
    socketFactory,
    loseNextProduceResponses: (count = 1) => (armed = count),
    get lost() {
      return lost;
    },
  };
}
