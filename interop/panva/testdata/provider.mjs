// A panva oidc-provider for apiguard's interop tests. It listens on a free
// loopback port, prints "listening <issuer>" on stdout once it serves, and
// stops when its standard input closes (when the test ends).
//
// Clients:
//   - app: confidential, code flow with refresh tokens (offline_access),
//     redirect to http://127.0.0.1/cb; the test drives the development
//     interactions (any login name is accepted) with plain HTTP calls.
//   - apiguard-rs: confidential, used by apiguard for introspection.
// Access tokens for the resource https://api.apiguard.test are opaque and
// carry it as aud.
import http from 'node:http';
import Provider from 'oidc-provider';

const resource = 'https://api.apiguard.test';

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'app',
        client_secret: 'app-secret-0123456789',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/cb'],
      },
      {
        client_id: 'apiguard-rs',
        client_secret: 'rs-secret-0123456789',
        grant_types: [],
        response_types: [],
        redirect_uris: [],
      },
    ],
    scopes: ['openid', 'offline_access', 'api:read'],
    features: {
      devInteractions: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, indicator) => {
          if (indicator !== resource) {
            throw new Error(`unknown resource ${indicator}`);
          }
          return { scope: 'api:read', audience: resource, accessTokenFormat: 'opaque', accessTokenTTL: 3600 };
        },
      },
    },
    async findAccount(ctx, id) {
      return { accountId: id, async claims() { return { sub: id }; } };
    },
  });
  server.on('request', provider.callback());
  process.stdout.write(`listening ${issuer}\n`);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
