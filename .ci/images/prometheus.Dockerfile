# A stand-in for prom/prometheus (the tag the compose files name; build.sh
# makes the context), for machines that cannot pull it: Debian's own
# `prometheus` package (2.42 in bookworm, where the real image is 3.x) laid
# out as the real image is: the binaries as /bin/prometheus and
# /bin/promtool, the configuration in /etc/prometheus, the data in the
# /prometheus volume, both owned by nobody, who runs it; the same entry point
# and arguments. wget is there because the real image's busybox has it and
# the compose healthcheck calls it.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends prometheus wget \
 && rm -rf /var/lib/apt/lists/* \
 && test -x /bin/prometheus && test -x /bin/promtool \
 && mkdir -p /prometheus \
 && chown -R nobody:nogroup /etc/prometheus /prometheus \
 && chmod g+w /prometheus
WORKDIR /prometheus
USER nobody
EXPOSE 9090
VOLUME ["/prometheus"]
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
