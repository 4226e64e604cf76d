def msm(*a):
    raise NotImplementedError


def ntt(*a):
    raise NotImplementedError
