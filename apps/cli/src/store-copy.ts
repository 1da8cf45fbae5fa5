// `bulwark store copy` and `bulwark store relay` (docs/event-store.md "Store copy", "Relay").
import { Command, InvalidArgumentError } from 'commander';
import type { NatsConnection } from 'nats';
import { type BusConfig, connectNats } from '@bulwark/messaging';
import { copyStore, type CopyReport, type EventStore, JetStreamEventStore, openKurrentDB, startRelay } from '@bulwark/event-store';
import { writeOut } from './audit';
import { InputError } from './input-checks';
import { EventStoreUnavailableError } from './replay';

const KINDS = ['jetstream', 'kurrentdb'] as const;
type Kind = (typeof KINDS)[number];

/** The copy finished but the destination's chain heads differ from the source's (exit 1). */
export class CopyVerificationError extends Error {
  constructor(readonly report: CopyReport) {
    const m = report.mismatches[0];
    super(
      `the destination's chains differ from the source's in ${report.mismatches.length} stream(s), first ${m.streamId}: source ${m.source ? `revision ${m.source.revision} hash ${m.source.hash}` : 'none'}, destination ${m.destination ? `revision ${m.destination.revision} hash ${m.destination.hash}` : 'none'}`,
    );
    this.name = 'CopyVerificationError';
  }
}

function kindArg(name: string) {
  return (v: string): Kind => {
    if (!(KINDS as readonly string[]).includes(v)) throw new InvalidArgumentError(`${name} must be one of ${KINDS.join(', ')}, got "${v}"`);
    return v as Kind;
  };
}

function jsName(name: string, re: RegExp) {
  return (v: string) => {
    if (!re.test(v)) throw new InvalidArgumentError(`${name} must match ${re}, got "${v}"`);
    return v;
  };
}

/** One side of a copy as the command line names it. */
interface Side {
  kind: Kind;
  stream: string;
  prefix: string;
  url: string | undefined;
}

/** Opens one side; the NATS connection (admin: a copy may create the destination stream) is shared by both sides. */
async function openSide(side: Side, nats: () => Promise<NatsConnection>, destination: boolean): Promise<{ store: EventStore; close: () => Promise<void> }> {
  if (side.kind === 'kurrentdb') {
    if (!side.url) throw new InputError('a kurrentdb side needs KURRENTDB_URL or --kurrentdb-url (e.g. kurrentdb://127.0.0.1:2113?tls=false)');
    const store = openKurrentDB(side.url, { validate: false });
    return { store, close: () => store.close() };
  }
  const nc = await nats();
  try {
    // The destination keeps events the catalogue no longer knows (a copy keeps the log as it is); metadata and chains are still checked.
    const store = await JetStreamEventStore.connect(nc, { stream: side.stream, subjectPrefix: side.prefix, create: destination, validate: false });
    return { store, close: () => store.close() };
  } catch (e) {
    throw new EventStoreUnavailableError(`cannot open JetStream stream ${side.stream} (${side.prefix}.>): ${(e as Error).message}`);
  }
}

/**
 * `store copy --from K --to K [...]` and `store relay`.
 * Exit codes (through main): 2 for unusable arguments (same source and destination, a kurrentdb
 * side without URL); 1 for a refused copy (non-empty destination without --resume, an unreadable
 * source message, a chain that does not match) and for heads that differ after the copy.
 */
export function registerStoreCommands(program: Command, bus: BusConfig): void {
  const store = program.command('store').description('Move the event log between stores (JetStream, KurrentDB) and mirror KurrentDB into JetStream.');
  store
    .command('copy')
    .description("Copy every stream in global order, keeping revisions, metadata and hash chains, then check the destination's chain heads equal the source's.")
    .requiredOption('--from <store>', 'source: jetstream or kurrentdb', kindArg('--from'))
    .requiredOption('--to <store>', 'destination: jetstream or kurrentdb', kindArg('--to'))
    .option('--from-stream <name>', 'source JetStream stream (default BULWARK_ES_STREAM)', jsName('--from-stream', /^[A-Za-z0-9_-]+$/))
    .option('--from-prefix <prefix>', 'source subject prefix (default BULWARK_ES_PREFIX)', jsName('--from-prefix', /^[A-Za-z0-9_-]+$/))
    .option('--to-stream <name>', 'destination JetStream stream (default BULWARK_ES_STREAM)', jsName('--to-stream', /^[A-Za-z0-9_-]+$/))
    .option('--to-prefix <prefix>', 'destination subject prefix (default BULWARK_ES_PREFIX)', jsName('--to-prefix', /^[A-Za-z0-9_-]+$/))
    .option('--kurrentdb-url <url>', 'KurrentDB connection string (default KURRENTDB_URL)')
    .option('--resume', 'continue an interrupted copy into a non-empty destination', false)
    .option('--json', 'print JSON instead of text', false)
    .action(async (o: { from: Kind; to: Kind; fromStream?: string; fromPrefix?: string; toStream?: string; toPrefix?: string; kurrentdbUrl?: string; resume: boolean; json: boolean }, cmd: Command) => {
      const url = o.kurrentdbUrl ?? process.env.KURRENTDB_URL?.trim() ?? undefined;
      const from: Side = { kind: o.from, stream: o.fromStream ?? bus.esStream, prefix: o.fromPrefix ?? bus.esPrefix, url };
      const to: Side = { kind: o.to, stream: o.toStream ?? bus.esStream, prefix: o.toPrefix ?? bus.esPrefix, url };
      if (from.kind === to.kind && (from.kind === 'kurrentdb' || (from.stream === to.stream && from.prefix === to.prefix))) {
        throw new InputError(`source and destination are the same store (${from.kind}${from.kind === 'jetstream' ? ` ${from.stream}` : ''}): name another --to-stream / --to-prefix`);
      }
      let nc: NatsConnection | null = null;
      const nats = async () =>
        (nc ??= await connectNats({ user: 'admin', servers: bus.natsUrl, name: 'bulwark-cli-store-copy', timeoutMs: 3_000, reconnect: 'never' }).catch((e) => {
          throw new EventStoreUnavailableError(`${(e as Error).message} (store copy connects as NATS user admin)`);
        }));
      const opened: { close: () => Promise<void> }[] = [];
      try {
        const src = await openSide(from, nats, false);
        opened.push(src);
        const dst = await openSide(to, nats, true);
        opened.push(dst);
        const r = await copyStore(src.store, dst.store, { resume: o.resume, onProgress: (n) => !o.json && process.stderr.write(`  ${n} events copied\n`) });
        writeOut(
          cmd,
          o.json
            ? JSON.stringify(r, null, 2)
            : `${r.verified ? 'ok' : 'MISMATCH'}: ${r.events} events in ${r.streams} streams copied from ${from.kind}${from.kind === 'jetstream' ? ` ${from.stream}` : ''} to ${to.kind}${to.kind === 'jetstream' ? ` ${to.stream}` : ''} (${r.written} written, ${r.events - r.written} already there); chain heads ${r.verified ? 'equal' : 'differ'}`,
        );
        if (!r.verified) throw new CopyVerificationError(r);
      } finally {
        for (const s of opened.reverse()) await s.close().catch(() => undefined);
        if (nc) await (nc as NatsConnection).drain().catch(() => undefined);
      }
    });
  store
    .command('relay')
    .description('Mirror KurrentDB ($all) into the JetStream event log the services consume, from the mirror\'s checkpoint, until stopped (SIGINT/SIGTERM). Run exactly one.')
    .option('--kurrentdb-url <url>', 'KurrentDB connection string (default KURRENTDB_URL)')
    .action(async (o: { kurrentdbUrl?: string }, cmd: Command) => {
      const url = o.kurrentdbUrl ?? process.env.KURRENTDB_URL?.trim();
      if (!url) throw new InputError('store relay needs KURRENTDB_URL or --kurrentdb-url');
      const source = openKurrentDB(url, { validate: false });
      const nc = await connectNats({ user: 'admin', servers: bus.natsUrl, name: 'bulwark-relay' }).catch(async (e) => {
        await source.close();
        throw new EventStoreUnavailableError((e as Error).message);
      });
      try {
        const relay = await startRelay({ source, nc, stream: bus.esStream, subjectPrefix: bus.esPrefix });
        writeOut(cmd, `relaying KurrentDB ${url} into JetStream ${bus.esStream} (${bus.esPrefix}.>) from position ${relay.from}`);
        const stop = () => void relay.stop();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        await relay.subscription.done;
      } finally {
        await source.close();
        await nc.drain().catch(() => undefined);
      }
    });
}
