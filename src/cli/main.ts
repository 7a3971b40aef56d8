// The CLI entry: `npm run cli -- <command>` (see program.ts for the commands).
import { main } from './program.ts';

process.exitCode = await main(process.argv);
