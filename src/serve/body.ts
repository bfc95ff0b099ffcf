/**
 * Request body parsing shared by the protocols. JSON is parsed with the plain JSON.parse (no reviver,
 * no prototype scan: request objects are only read, and merged into null-prototype objects), and a body
 * that is not JSON becomes an InvalidJson value instead of an error, because Seldon lets a `?json=`
 * query parameter win over the body: the protocol decides. A body nesting deeper than MAX_JSON_DEPTH
 * is a 400 at once, found before parsing (json-depth.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badData } from './errors.js';
import { depthProblem } from './json-depth.js';

/** A body that was sent as JSON but does not parse (bare NaN/Infinity included: they are not JSON). */
export class InvalidJson {
  constructor(readonly reason: string) {}
}

/**
 * The payload log's request event of a prediction (`--log-url`), with the body as received: logged here,
 * where the bytes are at hand, before they are parsed (a body that fails to parse is logged too).
 */
function logReceived(req: FastifyRequest, body: string | Buffer, contentType: string | undefined): void {
  const payloadLog = req.server.segserve?.payloadLog;
  if (payloadLog === undefined || req.segserveMeter?.service !== 'predictions') return;
  payloadLog.logRequest({ requestId: req.id, body, contentType: contentType ?? 'application/json' });
  req.segserveLogged = true;
}

/** The fields of a multipart/form-data body: strings for fields, bytes for file parts. */
export class MultipartBody {
  constructor(readonly fields: ReadonlyMap<string, string | Buffer>) {}
}

/**
 * Installs the body parsers: JSON (our own, see above) and multipart/form-data (parsed whole, within the
 * body limit, with the platform's FormData parser: no per-request hooks for a rarely used form).
 * Fastify's text/plain parser is dropped: unsupported content types are a 415.
 */
export function installBodyParsers(app: FastifyInstance, bodyLimit: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'multipart/form-data',
    { parseAs: 'buffer', bodyLimit },
    async (req: FastifyRequest, body: string | Buffer): Promise<MultipartBody> => {
      logReceived(req, body, req.headers['content-type']);
      let form: FormData;
      try {
        form = await new Response(body, {
          headers: { 'content-type': req.headers['content-type'] ?? '' },
        }).formData();
      } catch {
        throw badData('malformed multipart/form-data body (check the boundary and the parts)');
      }
      const fields = new Map<string, string | Buffer>();
      for (const [name, value] of form) {
        fields.set(name, typeof value === 'string' ? value : Buffer.from(await value.arrayBuffer()));
      }
      return new MultipartBody(fields);
    },
  );
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit },
    (req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      logReceived(req, text, req.headers['content-type']);
      if (text.length === 0) {
        done(null, new InvalidJson('the body is empty'));
        return;
      }
      // Before parsing: a deeply nested body is refused in one cheap pass (a 400, never a 500).
      const tooDeep = depthProblem(text, 'the JSON body');
      if (tooDeep !== undefined) {
        done(badData(tooDeep));
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        done(null, new InvalidJson((err as Error).message));
        return;
      }
      done(null, parsed);
    },
  );
}

/** The first value of a query or form parameter (repeated parameters arrive as arrays). */
export function firstString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return undefined;
}
