"""Scale-out: workers on two hosts share one campaign, and everyone gets exactly one text.

The hosts are network namespaces this test makes, each joined to this machine by
a veth pair: their workers reach the shared PostgreSQL, Redis and the Twilio fake
only across that link. Where namespaces can't be made (no root, no iproute2, a
sandbox that forbids them) the test is skipped and says why.
"""

from collections import Counter
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection

from campaigns import services
from campaigns.tests.factories import make_campaign, subscriber
from campaigns.tests.test_workers import FAST, per_number, wait_completed
from contacts.tests.factories import make_program
from testing.netns import NamespacesUnavailable, hosts_make
from testing.worker import database_url

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not ON_POSTGRES, reason="worker tests run against PostgreSQL"),
]


@pytest.fixture
def two_hosts(celery_processes):
    try:
        hosts = hosts_make(2)
    except NamespacesUnavailable as error:
        pytest.skip(f"scale-out across hosts not tested: network namespaces can't be made here ({error})")
    yield hosts
    celery_processes.stop_all()  # nothing may still run inside a namespace that is removed
    for host in hosts:
        host.remove()


def host_env(host, fake) -> dict[str, str]:
    """The settings a worker on `host` gets: every service at the far end of its own link."""
    s = connection.settings_dict
    db_host, db_port = host.reach((s.get("HOST") or "127.0.0.1", int(s.get("PORT") or 5432)))
    redis = urlsplit(settings.REDIS_URL)
    redis_host, redis_port = host.reach((redis.hostname, redis.port or 6379))
    provider = urlsplit(fake.base_url)
    fake_host, fake_port = host.reach((provider.hostname, provider.port))
    db = urlsplit(database_url())
    return {
        "DATABASE_URL": db._replace(netloc=f"{db.username or ''}@{db_host}:{db_port}").geturl(),
        "REDIS_URL": redis._replace(netloc=f"{redis_host}:{redis_port}").geturl(),
        "TWILIO_API_BASE_URL": f"http://{fake_host}:{fake_port}",
    }


def test_workers_on_two_hosts_share_one_campaign_exactly_once(celery_processes, fake_twilio, two_hosts):
    program = make_program()
    contacts = [subscriber(program) for _ in range(120)]
    # Every answer waits until both hosts have a group of ten in flight: certainly both take part.
    hold = fake_twilio.hold_next(None)
    workers = [
        celery_processes.worker(f"host{n}", fake=fake_twilio, prefix=host.prefix, **FAST, **host_env(host, fake_twilio))
        for n, host in enumerate(two_hosts)
    ]
    celery_processes.beat(fake=fake_twilio, **FAST)
    campaign = services.campaign_start(campaign=make_campaign(program), actor=None)
    hold.wait_held(20)
    fake_twilio.clear_failures()
    wait_completed(campaign, celery_processes, timeout=120)

    assert per_number(fake_twilio) == Counter({str(c.phone): 1 for c in contacts})
    assert len(fake_twilio.create_requests()) == 120
    for worker, host in zip(workers, two_hosts, strict=True):
        assert f"campaign {campaign.pk} batch" in worker.log()
        # Its database, Redis and provider traffic all crossed its own link.
        assert all(proxy.accepted for proxy in host.proxies), host
