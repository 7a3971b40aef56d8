/**
 * The zxcvbn estimate, run as its own short-lived process by password-strength.ts: reads
 * `{"password": "…", "related": ["…"]}` on standard input and prints the score (0–4). The common and English
 * dictionaries it loads are about 29 MB of live heap; in their own process they are gone when it exits
 * instead of staying in the server's heap for its whole life.
 */
import { readFileSync } from 'node:fs';
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as en from '@zxcvbn-ts/language-en';

const { password, related } = JSON.parse(readFileSync(0, 'utf8')) as { password: string; related: string[] };
const estimator = new ZxcvbnFactory({
  dictionary: { ...common.dictionary, ...en.dictionary },
  graphs: common.adjacencyGraphs,
  translations: en.translations,
});
process.stdout.write(String(estimator.check(password, related).score));
