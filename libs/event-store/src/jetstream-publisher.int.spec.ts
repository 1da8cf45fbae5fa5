import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ErrorCode, type NatsConnection, type PubAck } from 'nats';
import { eventLogStreamConfig } from './jetstream';
import { JetStreamPublisher, wireHeaders } from './jetstream-publisher';

// As jetstream.int.spec.ts: the project's NATS connect function, loaded from source at run time.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- see jetstream.int.spec.ts
const { connectNats } = require(path.join(__dirname, '..', '..', 'messaging', 'src', 'nats-connect')) as {
  connectNats(o: { user: 'admin' | 'signals'; name?: string; timeoutMs?: number }): Promise<NatsConnection>;
};

let nc: NatsConnection;
const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
const stream = `ESP_${tag}`;
const prefix = `esp${tag}`;
const body = new TextEncoder().encode('{}');
const guarded = (msgId: string, lastSubjectSequence: number) =>
  wireHeaders([
    ['Nats-Msg-Id', msgId],
    ['Nats-Expected-Last-Subject-Sequence', String(lastSubjectSequence)],
  ]);

beforeAll(async () => {
  nc = await connectNats({ user: 'admin', name: 'event-store-publisher-int-test', timeoutMs: 3_000 });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add(eventLogStreamConfig(stream, prefix));
}, 30_000);

afterAll(async () => {
  if (!nc) return;
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(stream).catch(() => undefined);
  await nc.close();
}, 30_000);

describe('JetStreamPublisher', () => {
  it('acknowledges many publishes in flight on many subjects, each chain guarded by its previous sequence', async () => {
    const pub = new JetStreamPublisher(nc);
    const subjects = 25;
    const each = 12;
    const acks: PubAck[][] = await Promise.all(
      Array.from({ length: subjects }, async (_, s) => {
        const out: PubAck[] = [];
        let prev = 0;
        for (let i = 0; i < each; i++) {
          const ack = await pub.publish(`${prefix}.many.s${s}`, body, guarded(`many-${s}-${i}`, prev));
          out.push(ack);
          prev = ack.seq;
        }
        return out;
      }),
    );
    const seqs = acks.flat().map((a) => a.seq);
    expect(new Set(seqs).size).toBe(subjects * each);
    for (const chain of acks) {
      expect(chain.every((a) => a.stream === stream && !a.duplicate)).toBe(true);
      expect(chain.map((a) => a.seq)).toEqual([...chain.map((a) => a.seq)].sort((a, b) => a - b));
    }
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(stream, { subjects_filter: `${prefix}.many.>` });
    expect(Object.values(info.state.subjects ?? {})).toEqual(Array.from({ length: subjects }, () => each));
    pub.release();
  }, 60_000);

  it('answers a broken guard with the JetStream API error, and a repeated msg id with a duplicate ack of the first', async () => {
    const pub = new JetStreamPublisher(nc);
    const first = await pub.publish(`${prefix}.guard.a`, body, guarded('guard-a-0', 0));
    const error = await pub.publish(`${prefix}.guard.a`, body, guarded('guard-a-1', 0)).catch((e: unknown) => e);
    expect(error).toMatchObject({ api_error: { err_code: 10071 } });
    const again = await pub.publish(`${prefix}.guard.a`, body, guarded('guard-a-0', 0));
    expect(again).toMatchObject({ seq: first.seq, duplicate: true });
    pub.release();
  }, 60_000);

  it('fails with no responders (503) where no stream captures the subject', async () => {
    const pub = new JetStreamPublisher(nc);
    await expect(pub.publish(`nostream${tag}.x`, body, guarded('x', 0))).rejects.toMatchObject({ code: ErrorCode.NoResponders });
    pub.release();
  }, 60_000);

  it('fails with a timeout when nobody answers, and later publishes still work', async () => {
    const silent = nc.subscribe(`silent${tag}.>`, { callback: () => undefined });
    const pub = new JetStreamPublisher(nc, 300);
    try {
      await expect(pub.publish(`silent${tag}.x`, body, guarded('s', 0))).rejects.toMatchObject({ code: ErrorCode.Timeout });
      await expect(pub.publish(`${prefix}.after.timeout`, body, guarded('after-timeout', 0))).resolves.toMatchObject({ stream, duplicate: false });
    } finally {
      silent.unsubscribe();
      pub.release();
    }
  }, 60_000);

  it('fails what is in flight when its connection closes', async () => {
    const own = await connectNats({ user: 'admin', name: 'event-store-publisher-int-test-close', timeoutMs: 3_000 });
    const silent = own.subscribe(`silent${tag}.>`, { callback: () => undefined });
    const pub = new JetStreamPublisher(own, 30_000);
    const inFlight = pub.publish(`silent${tag}.y`, body, guarded('y', 0)).catch((e: unknown) => e);
    pub.release(); // not idle: the subscription stays while the publish waits
    await own.flush();
    await own.close();
    expect(await inFlight).toMatchObject({ code: ErrorCode.ConnectionClosed });
    expect(silent.isClosed()).toBe(true);
  }, 60_000);

  it('fails a publish the user may not make with PERMISSIONS_VIOLATION (not a timeout), the oldest first; the connection goes on', async () => {
    // signals may publish only to its own streams' subjects: not to this test's stream.
    const own = await connectNats({ user: 'signals', name: 'event-store-publisher-int-test-permissions', timeoutMs: 3_000 });
    const pub = new JetStreamPublisher(own, 30_000); // far beyond the test's wait: a timeout cannot pass for a refusal
    try {
      const subject = `${prefix}.forbidden`;
      const [first, second] = await Promise.all([
        pub.publish(subject, body, guarded('forbidden-1', 0)).catch((e: unknown) => e),
        pub.publish(subject, body, guarded('forbidden-2', 0)).catch((e: unknown) => e),
      ]);
      for (const e of [first, second]) expect(e).toMatchObject({ code: ErrorCode.PermissionsViolation, permissionContext: { operation: 'publish', subject } });
      expect(own.isClosed()).toBe(false);
      const jsm = await nc.jetstreamManager();
      await expect(jsm.streams.getMessage(stream, { last_by_subj: subject })).rejects.toThrow(/no message found/);
    } finally {
      pub.release();
      await own.close();
    }
  }, 60_000);
});
