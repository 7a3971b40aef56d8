/** Samples a process's resident memory while load runs; reports the peak. */
import { rssBytes } from './processes.ts';

export interface RssSampler {
  /** Highest RSS seen since the start (or the last mark), bytes. */
  peak(): number;
  /** Starts a new interval; returns the peak of the one that ends. */
  mark(): number;
  /** Highest RSS over the whole sampling. */
  overall(): number;
  stop(): void;
}

export function sampleRss(pid: number, intervalMs = 250): RssSampler {
  let peak = 0;
  let overall = 0;
  const timer = setInterval(() => {
    void rssBytes(pid).then((rss) => {
      if (rss === undefined) return;
      peak = Math.max(peak, rss);
      overall = Math.max(overall, rss);
    });
  }, intervalMs);
  timer.unref();
  return {
    peak: () => peak,
    mark: () => {
      const ended = peak;
      peak = 0;
      return ended;
    },
    overall: () => overall,
    stop: () => clearInterval(timer),
  };
}
