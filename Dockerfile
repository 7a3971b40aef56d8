# syntax=docker/dockerfile:1
# Build stage: install dependencies (native addons compile here) and type-check.
FROM node:24-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY views ./views
COPY locales ./locales
COPY public ./public
COPY config ./config
RUN npx tsc --noEmit -p tsconfig.build.json && npm prune --omit=dev

# Runtime stage: Node 24 runs the TypeScript sources directly (type stripping); no compiler inside.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
# One malloc arena per thread pool worker would keep a 19 MiB argon2 buffer each (see bench/README.md).
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node package.json ./
COPY --chown=node:node src ./src
COPY --chown=node:node views ./views
COPY --chown=node:node locales ./locales
COPY --chown=node:node public ./public
COPY --chown=node:node config ./config
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--max-semi-space-size=8", "--max-old-space-size=256", "src/main.ts"]
