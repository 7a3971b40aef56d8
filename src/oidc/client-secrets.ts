// Moved to services/client-secrets.ts (the admin service generates secrets too, and services never
// import oidc/); kept for imports of branches in flight. Import from services/client-secrets.ts.
export * from '../services/client-secrets.ts';
