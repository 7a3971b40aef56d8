/** The embedded mail outbox (DATA_DIR/outbox/*.eml), each message decoded to text (MIME words, quoted-printable). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export function decodeMail(raw: string): string {
  const words = raw.replace(/=\?UTF-8\?([QB])\?([^?]*)\?=/gi, (_, kind: string, text: string) =>
    kind.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : `=QP=${text.replace(/_/g, ' ')}=QP=`,
  );
  const soft = words.replace(/=\r?\n/g, '').replace(/=QP=/g, '');
  const bytes = soft.replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

/** Every message in the outbox folder, decoded, oldest file name first. */
export function readOutbox(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.eml'))
    .sort()
    .map((name) => decodeMail(readFileSync(path.join(dir, name), 'utf8')));
}
