/** Requests of the replay's control subjects: what they accept and refuse. */
import { ReplayPaceRequest, Subjects } from './messages';

describe('ReplayPaceRequest', () => {
  it('takes a run id and a pace: 0 (as fast as the pipeline takes it) or N× market time', () => {
    expect(ReplayPaceRequest.parse({ runId: 'demo-1', speed: 0 })).toEqual({ runId: 'demo-1', speed: 0 });
    expect(ReplayPaceRequest.parse({ runId: 'demo-1', speed: 360 })).toEqual({ runId: 'demo-1', speed: 360 });
    expect(Subjects.replayPace).toBe('bulwark.market-data.replay.pace');
  });

  it('refuses a negative, infinite or missing speed and a run id that is not an identifier', () => {
    for (const speed of [-1, Number.POSITIVE_INFINITY, Number.NaN, '10', undefined]) expect(ReplayPaceRequest.safeParse({ runId: 'demo-1', speed }).success).toBe(false);
    expect(ReplayPaceRequest.safeParse({ runId: 'a b', speed: 1 }).success).toBe(false);
    expect(ReplayPaceRequest.safeParse({ runId: '', speed: 1 }).success).toBe(false);
  });
});
