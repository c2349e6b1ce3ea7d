"""Sending a campaign in batches (being written)."""


def campaign_chains_ensure(*, campaign_id: int) -> int:
    raise NotImplementedError
