import { z } from 'zod';

/** `Name <address>` or a bare address, as routes.yaml and EMAIL_FROM write a sender. */
export function parseMailbox(text: string): { name: string; address: string } {
  const named = /^([^<>]*)<([^<>]+)>$/.exec(text.trim());
  return named ? { name: named[1]!.trim(), address: named[2]!.trim() } : { name: '', address: text.trim() };
}

export const emailAddress = z.email({ error: 'expected an email address' });

/** "ops@maestro.example" or "Maestro AlertCenter <alertcenter@maestro.example>". */
export const mailbox = z
  .string()
  .refine((text) => emailAddress.safeParse(parseMailbox(text).address).success, 'expected an email address, optionally with a display name: Name <address>');
