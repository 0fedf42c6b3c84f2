// node-oidc-provider as the benchmark's peer (bench/run --peers): one process, its in-memory adapter,
// refresh tokens rotated on every use, JWT access tokens signed RS256 for one resource server (resource
// indicators). Refresh tokens are minted without a browser through a bench-only grant type
// (urn:authserver:bench:mint), the way the driver's password grant mints ours. Not a deployment.
//
//   PEER_PORT=9100 PEER_CLIENT_SECRET=... node oidc_provider_peer.mjs
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PEER_PORT || 9100);
const issuer = `http://127.0.0.1:${port}`;
const resource = 'https://api.bench.invalid';
const secret = process.env.PEER_CLIENT_SECRET || 'bench-peer-secret';
const MINT = 'urn:authserver:bench:mint';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench-app',
      client_secret: secret,
      grant_types: ['refresh_token', 'client_credentials', MINT],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'offline_access read write',
    },
  ],
  jwks: { keys: [jwk] },
  scopes: ['offline_access', 'read', 'write'],
  rotateRefreshToken: true,
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'read write',
        audience: resource,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  ttl: { RefreshToken: 14 * 86400, AccessToken: 600, ClientCredentials: 600, Grant: 30 * 86400 },
});

// The bench-only grant: a new grant (family) for a fixed account and its first refresh token.
provider.registerGrantType(
  MINT,
  async (ctx) => {
    const { client } = ctx.oidc;
    const grant = new provider.Grant({ accountId: 'bench-user', clientId: client.clientId });
    grant.addOIDCScope('offline_access');
    grant.addResourceScope(resource, 'read write');
    const grantId = await grant.save();
    const refreshToken = new provider.RefreshToken({
      accountId: 'bench-user',
      client,
      grantId,
      gty: 'refresh_token',
      scope: 'offline_access',
      resource,
      rotations: 0,
    });
    ctx.body = { refresh_token: await refreshToken.save(), token_type: 'Bearer' };
  },
  [],
);

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ${issuer} ready`);
});
