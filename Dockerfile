# The project's image: the MLFO, the flower-adapter and the CLIs, one program per container chosen
# by the first argument (monitoring/compose/entrypoint.sh):
#   npm run image                       # builds mlfo-base and this image (no registry needed)
#   docker run --rm mlfo flower-adapter --host 0.0.0.0
#   docker run --rm -e MLFO_ROLE=cloud -e MLFO_INVENTORY=… mlfo mlfo
# `npm run image` (topology/src/docker/images.ts) sends the context itself: what is installed and
# built on this machine (node_modules/, dist/), not `npm install` in the build, since containers
# cannot reach the npm registry everywhere. The base (BASE) holds Node.js 20, iproute2 (`ss`, for
# the fl_tcp_* metrics), iperf3, ping, redis-server and prometheus; .dockerignore drops the
# build-only packages (typescript, biome, types) from node_modules. tsx stays: mlfo-topo runs its
# sources through it, and bin/launch.mjs falls back to it when dist/ is older than the sources
# (which is why the sources come along, with their times).
ARG BASE=mlfo-base:latest
FROM ${BASE}

WORKDIR /app
# the dependencies first: a change of the project's own files leaves this layer cached
COPY node_modules/ node_modules/
COPY package.json tsconfig.json ./
COPY bin/ bin/
COPY common/ common/
COPY flower-adapter/ flower-adapter/
COPY mlfo/ mlfo/
COPY topology/ topology/
COPY intents/ intents/
COPY monitoring/ monitoring/
COPY dist/ dist/
RUN chmod +x monitoring/compose/entrypoint.sh \
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
