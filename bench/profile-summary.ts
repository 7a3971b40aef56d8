/** Usage: node bench/profile-summary.ts <file.cpuprofile> [top] [last-seconds]: where the CPU time of a profile went. */
import { renderProfile, summarizeProfile } from './lib/profile.ts';

const file = process.argv[2];
if (!file) {
  console.error('usage: node bench/profile-summary.ts <file.cpuprofile> [top] [last-seconds]');
  process.exit(1);
}
const last = process.argv[4] === undefined ? undefined : Number(process.argv[4]) * 1000;
console.log(renderProfile(summarizeProfile(file, Number(process.argv[3] ?? 25), last)));
