import type http from 'node:http';

/*
 * What the fake processors' HTTP layers share: reading a request as a
 * processor's server reads it.
 */

/** One header's value (the first, if repeated), or null. */
export const header = (request: http.IncomingMessage, name: string): string | null => {
  const value = request.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? null;
};

/** The whole body as UTF-8 text. */
export const readBody = async (request: http.IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};
