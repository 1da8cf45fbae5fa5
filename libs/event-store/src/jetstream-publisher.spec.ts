import { describe, expect, it } from '@jest/globals';
import { ErrorCode, type MsgHdrsImpl, headers as natsHeaders } from 'nats';
import { wireHeaders } from './jetstream-publisher';

describe('wireHeaders', () => {
  it("writes the bytes nats.js's headers() would, in order, values trimmed", () => {
    const pairs = [
      ['Bulwark-Stream-Id', 'order-bw1a2b-7E'],
      ['Bulwark-Revision', '12'],
      ['Bulwark-Event-Type', ' OrderSubmitted '],
      ['Bulwark-Event-Id', 'é-ü:1'],
      ['Nats-Msg-Id', 'order-bw1a2b-7E:12'],
      ['Nats-Expected-Last-Subject-Sequence', '0'],
    ] as const;
    const h = natsHeaders();
    for (const [k, v] of pairs) h.append(k, v);
    // The wire form is what a publish sends (`encode`, on nats.js's implementation of MsgHdrs).
    const wire = (x: unknown) => Buffer.from((x as MsgHdrsImpl).encode()).toString('utf8');
    expect(wire(wireHeaders(pairs))).toBe(wire(h));
  });

  it('refuses a value holding CR or LF, as nats.js does (BAD_HEADER)', () => {
    for (const bad of ['a\r\nX-Injected: 1', 'a\nb', 'a\rb']) {
      expect(() => wireHeaders([['Bulwark-Event-Id', bad]])).toThrow(expect.objectContaining({ code: ErrorCode.BadHeader }));
    }
  });
});
