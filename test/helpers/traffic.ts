/** Requests kept flowing against a server while a test breaks and mends its dependencies. */

export interface TrafficResult {
  label: string;
  status: number;
  retryAfter: string | null;
  body: string;
  /** When the request finished (Date.now()). */
  at: number;
}

export interface Traffic {
  readonly results: TrafficResult[];
  /** Stops issuing requests and waits for the ones in flight. */
  stop(): Promise<TrafficResult[]>;
}

export type Step = () => Promise<{ label: string; response: Response }>;

/** Runs `concurrency` loops, each calling a step (round-robin over `steps`) until stopped. */
export function startTraffic(steps: Step[], concurrency = 4): Traffic {
  const results: TrafficResult[] = [];
  let running = true;
  let turn = 0;
  async function loop(): Promise<void> {
    while (running) {
      const step = steps[turn++ % steps.length]!;
      try {
        const { label, response } = await step();
        results.push({ label, status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.text(), at: Date.now() });
      } catch (err) {
        // A refused or reset connection would be a crash or a hang of the server: record it as status 0.
        results.push({ label: 'network', status: 0, retryAfter: null, body: String(err), at: Date.now() });
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  const loops = Array.from({ length: concurrency }, loop);
  return {
    results,
    async stop() {
      running = false;
      await Promise.all(loops);
      return results;
    },
  };
}
