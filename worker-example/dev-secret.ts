/**
 * A secret for local development only, used when SESSION_SECRET is not set. Anyone can read it here, so a
 * server using it must never face the internet: set SESSION_SECRET (`openssl rand -base64 32`).
 */
export const DEV_ONLY_SECRET = 'dev-only-secret-do-not-deploy-0123456789abcdef';
