# Dockerfile: one image for the whole suite; the command names the service (crm-contacts, crm-gateway, ...).
# Build: docker build -t crm-suite .    Run all six: docker compose up (see docker-compose.yml).

FROM debian:12 AS build
WORKDIR /src
COPY deploy/install-deps.sh deploy/install-deps.sh
RUN ./deploy/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN rm -rf build && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCRM_TESTS=OFF \
    && cmake --build build -j"$(nproc)" \
    && mkdir -p /out && cp build/crm-* /out/ && strip /out/crm-*

FROM debian:12-slim
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
       libzmq5 liblmdb0 libmsgpackc2 libprotobuf-c1 libjansson4 libmicrohttpd12 libsodium23 libcurl4 \
       ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/crm --create-home crm
COPY --from=build /out/ /usr/local/bin/
USER crm
WORKDIR /var/lib/crm
ENV CRM_DATA_DIR=/var/lib/crm CRM_BIND_HOST=*
CMD ["crm-gateway"]
