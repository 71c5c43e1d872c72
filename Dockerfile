# syntax=docker/dockerfile:1
# Faultline gateway image: build stage compiles TypeScript and better-sqlite3; the runtime stage has
# only production dependencies and runs as the unprivileged `node` user.
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
# better-sqlite3 compiles from source when no prebuilt binary can be fetched.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY lib ./lib
COPY gateway ./gateway
COPY adapters ./adapters
COPY ingest ./ingest
COPY rules ./rules
COPY tickets ./tickets
COPY api ./api
COPY notify ./notify
COPY parts ./parts
COPY simulators ./simulators
# The console (issue 21): its sources and the esbuild script that bundles them into dist/console.
COPY console ./console
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

FROM node:${NODE_VERSION}-bookworm-slim
# Hosts, ports and the data directory come from the configuration file, not from FAULTLINE_*
# variables: those would override a mounted file (flag > environment > file).
ENV NODE_ENV=production \
    FAULTLINE_CONFIG=/etc/faultline/faultline.yaml
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY examples ./examples
COPY simulators/scenarios ./simulators/scenarios
COPY docker/faultline.yaml /etc/faultline/faultline.yaml
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080 1883
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.FAULTLINE_API_PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/gateway/cli.js"]
CMD ["start"]
