# The project's image: the MLFO, the flower-adapter and the CLIs, compiled (npm run build), one
# program per container chosen by the first argument (monitoring/compose/entrypoint.sh):
#   docker build -t mlfo .
#   docker run --rm mlfo flower-adapter --host 0.0.0.0
#   docker run --rm -e MLFO_ROLE=cloud -e MLFO_INVENTORY=… mlfo mlfo
# docker-compose.yml builds and runs it. Not built on the development machine (no container
# registry there for the base image).
FROM node:20-bookworm-slim

# iproute2: `ss`, which the flower-adapter reads TCP info with (fl_tcp_* metrics)
RUN apt-get update \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 ca-certificates \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# dependencies first, so a source change does not reinstall them. `npm install` rather than
# `npm ci`: the lockfile names platform-only optional packages that some registries lack, and
# `npm install` honours the lockfile while skipping them (as scripts/setup.sh does).
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund --loglevel=error

COPY . .
# compile to dist/ (the bin launchers run it while it is newer than the sources), then drop the
# build-only packages (typescript, biome, types); tsx stays for mlfo-topo
RUN node scripts/build.mjs \
  && npm prune --omit=dev --no-audit --no-fund --loglevel=error \
  && chmod +x monitoring/compose/entrypoint.sh \
  && mkdir -p /app/data \
  && chown node:node /app/data

ENV NODE_ENV=production \
  FLOWER_ADAPTER_DATA_DIR=/app/data \
  FLOWER_ADAPTER_HOST=0.0.0.0 \
  MLFO_HOST=0.0.0.0

USER node
# flower-adapter REST and Flower gRPC; MLFO intent API and MoMo
EXPOSE 5000 6000 8000 9000
ENTRYPOINT ["/app/monitoring/compose/entrypoint.sh"]
CMD ["flower-adapter"]
