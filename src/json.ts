/** A JSON object as stored (client metadata, audit detail, onboarding data) and as the doors pass it on. */
export type JsonObject = { [key: string]: unknown };
