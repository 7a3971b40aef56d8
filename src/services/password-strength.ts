/**
 * Password strength as zxcvbn estimates it (0 = guessable in seconds … 4 = very unguessable), with the common
 * and English dictionaries. The dictionaries take a few hundred milliseconds to load, so they are loaded on the
 * first estimate, not at import: only a production start with ADMIN_PASSWORD asks for one today.
 */
import { createRequire } from 'node:module';
import type * as Core from '@zxcvbn-ts/core';
import type * as Common from '@zxcvbn-ts/language-common';
import type * as English from '@zxcvbn-ts/language-en';

const require = createRequire(import.meta.url);

let estimator: Core.ZxcvbnFactory | undefined;

function load(): Core.ZxcvbnFactory {
  if (estimator) return estimator;
  const core = require('@zxcvbn-ts/core') as typeof Core;
  const common = require('@zxcvbn-ts/language-common') as typeof Common;
  const en = require('@zxcvbn-ts/language-en') as typeof English;
  estimator = new core.ZxcvbnFactory({
    dictionary: { ...common.dictionary, ...en.dictionary },
    graphs: common.adjacencyGraphs,
    translations: en.translations,
  });
  return estimator;
}

/** The zxcvbn score of `password`; `related` are words an attacker would try first (the e-mail, the product). */
export function passwordScore(password: string, related: string[] = []): 0 | 1 | 2 | 3 | 4 {
  return load().check(password, related).score;
}
