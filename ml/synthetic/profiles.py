"""The one-dimensional profiles along the spine that the anatomy is built from (ml.synthetic.anatomy):
their names, and their values gathered at many points' spine positions at once."""

import numpy as np

PROFILE_NAMES = tuple(
    """is_body is_disc is_arch endplate_dist body_ap body_width canal_ap canal_width spinous_length
    arch_centre arch_height spinous_centre facet_gap bulge osteophyte opll lf anterior
    disc_degeneration dura_ap cord_ap cord_width sac_centre myelopathy""".split()
)


class LazyProfiles:
    """Profile values at the points' spine positions, gathered on first use."""

    def __init__(self, profiles: dict[str, np.ndarray], index: np.ndarray) -> None:
        self._profiles, self._index, self._cache = profiles, index, {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = self._profiles[name][self._index]
        return self._cache[name]

    def subset(self, where: np.ndarray) -> "LazyProfiles":
        return LazyProfiles(self._profiles, self._index[where])
