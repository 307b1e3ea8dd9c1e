# Builds the static cs231n-agent exactly as scripts/build.sh does on a Debian 12 machine.
#   docker build --output type=local,dest=out .   ->   out/cs231n-agent
# The binary runs on Ubuntu 16.04-24.04 and Debian 11/12 (static glibc needs kernel >= 3.2).
FROM debian:bookworm AS build
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN scripts/build.sh

FROM scratch AS export
COPY --from=build /src/build/cs231n-agent /cs231n-agent
