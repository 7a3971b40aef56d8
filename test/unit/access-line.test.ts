import { expect } from 'chai';
import { pino, type DestinationStream } from 'pino';
import { createLogger } from '../../src/logger.ts';
import { accessLineWriter, type AccessLine } from '../../src/http/middleware/access-line.ts';

/** A logger configured as the server's (createLogger), writing into an array. */
function capturing(level = 'info') {
  const lines: string[] = [];
  const destination: DestinationStream = { write: (line: string) => void lines.push(line) };
  return { logger: createLogger({ level, destination }), lines };
}

/** The time is the only field that differs between two lines written a moment apart. */
const withoutTime = (line: string | undefined): string => (line ?? '').replace(/"time":"[^"]*"/, '"time":"T"');

describe('the access line (src/http/middleware/access-line.ts)', () => {
  const cases: [string, AccessLine][] = [
    ['an ordinary request', { reqId: '3b241101-e2bb-4255-8caf-4136c566a962', method: 'POST', url: '/oidc/token', status: 200, ms: 1.2, ip: '127.0.0.1' }],
    ['an abandoned request', { reqId: 'caller-chosen-id:1', method: 'GET', url: '/auth/me', status: 499, ms: 30012.5, ip: '::1', aborted: true }],
    ['a path and an address with characters JSON escapes', { reqId: 'abcdefgh', method: 'GET', url: '/a"b\\c\u0001d/é/\u2028', status: 404, ms: 0, ip: '10.0.0.1"' }],
    ['a path carrying URL credentials', { reqId: 'abcdefgh', method: 'GET', url: '/x/postgres://user:secret@db/x', status: 404, ms: 0.1, ip: '127.0.0.1' }],
  ];
  for (const [what, line] of cases) {
    it(`writes ${what} byte for byte as logger.info(line, 'request') would`, () => {
      const ours = capturing();
      accessLineWriter(ours.logger)(line);
      const pinos = capturing();
      pinos.logger.info(line, 'request');
      expect(ours.lines).to.have.length(1);
      expect(withoutTime(ours.lines[0])).to.equal(withoutTime(pinos.lines[0]));
      expect(JSON.parse(ours.lines[0] ?? '')).to.include({ level: 'info', msg: 'request', url: line.url.replace('secret', '[redacted]') });
    });
  }

  it("keeps the logger's bindings and writes nothing below its level", () => {
    const bound = capturing();
    const child = bound.logger.child({ worker: 2 });
    accessLineWriter(child)(cases[0]![1]);
    child.info(cases[0]![1], 'request');
    expect(withoutTime(bound.lines[0])).to.equal(withoutTime(bound.lines[1]));
    expect(JSON.parse(bound.lines[0] ?? '')).to.include({ worker: 2 });

    const quiet = capturing('warn');
    accessLineWriter(quiet.logger)(cases[0]![1]);
    expect(quiet.lines).to.deep.equal([]);
    quiet.logger.level = 'info';
    accessLineWriter(quiet.logger)(cases[0]![1]);
    expect(quiet.lines).to.have.length(1);
  });

  it('hands the line to pino itself for a stream that reads each line\'s level and object (pino.multistream)', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: pino.multistream([{ level: 'info', stream: { write: (line: string) => void lines.push(line) } }]) });
    accessLineWriter(logger)(cases[1]![1]);
    logger.info(cases[1]![1], 'request');
    expect(lines).to.have.length(2);
    expect(withoutTime(lines[0])).to.equal(withoutTime(lines[1]));
  });
});
