import { createRequire } from 'node:module';
import type * as Http from 'node:http';

/**
 * What the Lambda bundles get for `import ... from 'node:http'` (ProvisioningFunction aliases
 * `http` and `node:http` here). Node builds an ES module facade for a built-in by reading every
 * export, and `node:http`'s exports include the WebSocket classes, whose getters load undici:
 * about 20 ms of CPU at every cold start for classes the functions never use. The module loaded
 * through `require` has no facade, so nothing reads those getters. An export the bundle needs and
 * this list lacks fails the build, never a request.
 */
const http = createRequire(import.meta.url)('node:http') as typeof Http;

export const {
  Agent,
  ClientRequest,
  IncomingMessage,
  METHODS,
  OutgoingMessage,
  STATUS_CODES,
  Server,
  ServerResponse,
  createServer,
  get,
  globalAgent,
  maxHeaderSize,
  request,
  setMaxIdleHTTPParsers,
  validateHeaderName,
  validateHeaderValue,
} = http;
export default http;
