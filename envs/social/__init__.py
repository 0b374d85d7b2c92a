"""Sequential social dilemmas in pure JAX: Commons Harvest, Clean Up and Coins.

Faithful to Melting Pot's substrate configs (google-deepmind/meltingpot,
``meltingpot/configs/substrates/{commons_harvest__open,commons_harvest__closed,
commons_harvest__partnership,clean_up,coins}.py``); ``docs/social.md`` lists every
parameter and every place where our dynamics differ. The multi-agent contract is in
:mod:`envs.core`'s docstring and :mod:`envs.social.base`; the registry lines are in
:mod:`envs.social.tasks`.
"""
